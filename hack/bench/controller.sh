#!/usr/bin/env bash
# `make bench-controller`: the controller at scale on its own local control plane
# (.cache/cp-scale), brought up for the run and down afterwards.
#   hack/bench/controller.sh [--vms 2000] [--hosts 100] [--volumes 40] [--points 10000,20000] [--idle 60]
# Prints a table and saves JSON under bench/results/controller-<time>.json.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=hack/lib.sh
source "$root/hack/lib.sh"
cd "$root"

export SHADOWKEEP_CONTROL_PLANE_DIR=${SHADOWKEEP_CONTROL_PLANE_DIR:-$root/.cache/cp-scale}
[ -f dist/hack/bench/controller.js ] || tsc -p tsconfig.json
KUBECONFIG=$(hack/control-plane up | tail -n 1)
export KUBECONFIG
trap 'hack/control-plane down >/dev/null 2>&1 || true' EXIT
kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
kubectl wait --for=condition=Established --timeout=60s -f crds/ >/dev/null
node --expose-gc --max-old-space-size=2048 dist/hack/bench/controller.js "$@"
