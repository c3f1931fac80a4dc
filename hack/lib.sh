# Shared by the hack/ scripts: paths, pinned versions and logging. Sourced, not run.
root=${root:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
NODE_VERSION=24.21.0
CACHE=${SHADOWKEEP_CACHE:-$root/.cache}
NODE_HOME=$CACHE/tools/node-$NODE_VERSION
BIN=$CACHE/bin
export PATH="$BIN:$NODE_HOME/bin:$PATH"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { printf '[%s] error: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }
