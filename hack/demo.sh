#!/usr/bin/env bash
# The local demo (`make demo`): a real control plane with Shadowkeep's CRDs installed.
#   --once   run the story non-interactively and exit 0 only if every step succeeded
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=hack/lib.sh
source "$root/hack/lib.sh"
cd "$root"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Starting the local control plane"
KUBECONFIG=$(hack/control-plane up)
export KUBECONFIG
echo "KUBECONFIG=$KUBECONFIG"

step "Installing Shadowkeep's CustomResourceDefinitions"
kubectl apply --server-side -f crds/
kubectl wait --for=condition=Established --timeout=60s -f crds/ >/dev/null
kubectl get crds -l app.kubernetes.io/part-of=shadowkeep 2>/dev/null || kubectl get crds

step "Done. The control plane keeps running: export KUBECONFIG=$KUBECONFIG; stop it with make control-plane-down"
