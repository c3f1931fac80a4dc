#!/usr/bin/env bash
# `make bench-copy`: offsite copy throughput and bytes sent for a second recovery point, against
# `restic copy` (restic built from Go modules) on the same disk states.
#   hack/bench/copy.sh [--size-mib 1024] [--change-percent 2] [--work DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=hack/lib.sh
source "$root/hack/lib.sh"
cd "$root"
hack/tools/build.sh restic
[ -f dist/hack/bench/copy.js ] || tsc -p tsconfig.json
node dist/hack/bench/copy.js --restic "$BIN/restic" "$@"
