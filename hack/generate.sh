#!/usr/bin/env bash
# Regenerates what is derived from the hand-written CRDs in crds/: the TypeScript API types in
# controller/api/types.generated.ts and the chart's CRD templates (see hack/codegen/generate.ts).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=hack/lib.sh
source "$root/hack/lib.sh"
exec node "$root/hack/codegen/generate.ts" --root "$root" "$@"
