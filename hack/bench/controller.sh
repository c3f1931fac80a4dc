#!/usr/bin/env bash
# `make bench-controller`: the controller at scale on a control plane of its own, brought up for the
# run and down afterwards.
#   hack/bench/controller.sh [--vms 2000] [--hosts 100] [--volumes 40] [--points 10000,20000] [--idle 60]
# Prints a table and saves JSON under bench/results/controller-<time>.json.
#
# The control plane's state folder is new for every run (SHADOWKEEP_BENCH_CONTROL_PLANE_DIR to choose
# one) and deliberately not SHADOWKEEP_CONTROL_PLANE_DIR: `hack/control-plane up` reuses a running
# control plane in the same folder, and a test run that did so stops it when it ends, which is how
# an earlier run lost its API server in the middle (etcd shut down cleanly, then everything failed).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=hack/lib.sh
source "$root/hack/lib.sh"
cd "$root"

# A fresh folder, not one named after the PID: a reused PID found an earlier run's leftovers.
mkdir -p "$root/.cache"
export SHADOWKEEP_CONTROL_PLANE_DIR=${SHADOWKEEP_BENCH_CONTROL_PLANE_DIR:-$(mktemp -d "$root/.cache/cp-bench-controller-XXXXXX")}
[ -f dist/hack/bench/controller.js ] || tsc -p tsconfig.json
KUBECONFIG=$(hack/control-plane up | tail -n 1)
export KUBECONFIG
trap 'hack/control-plane down >/dev/null 2>&1 || true; rm -rf "$SHADOWKEEP_CONTROL_PLANE_DIR"' EXIT
kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
kubectl wait --for=condition=Established --timeout=60s -f crds/ >/dev/null
if ! node --expose-gc --max-old-space-size=2048 dist/hack/bench/controller.js "$@"; then
  # Say whether the control plane was still there: a failed run is otherwise hard to read.
  for component in etcd kube-apiserver; do
    pid=$(cat "$SHADOWKEEP_CONTROL_PLANE_DIR/$component.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && [ -d "/proc/$pid" ]; then
      echo "bench-controller: $component (pid $pid) still runs" >&2
    else
      echo "bench-controller: $component is gone; the end of its log:" >&2
    fi
    grep -Ev 'createTransport|Resetting endpoints|unable to sync kubernetes service' "$SHADOWKEEP_CONTROL_PLANE_DIR/$component.log" 2>/dev/null | tail -n 5 >&2 || true
  done
  exit 1
fi
