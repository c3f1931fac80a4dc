#!/usr/bin/env bash
# The local demo (`make demo`): a real control plane, Shadowkeep's CRDs, the controller and three
# simulated Hyper-V hosts (filehost agents) with six VMs on real NTFS VHDX disks; then backups,
# a live migration with an incremental from the new node, a single-file restore, a boot test,
# offsite copies and end-to-end repository checks.
#   --once   run the story non-interactively and exit 0 only if every step succeeded
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=hack/lib.sh
source "$root/hack/lib.sh"
cd "$root"

once=false
[ "${1:-}" = "--once" ] && once=true

demo=$CACHE/demo
logs=$demo/logs
export SHADOWKEEP_SIM_ROOT=$demo/sim
ns=shadowkeep-system
sk=./bin/shadowkeep
pids=()

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }
stop_processes() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap stop_processes EXIT

# Waits until a recovery point is Completed (or fails the demo with its failure message).
wait_point() {
  local name=$1 phase
  for _ in $(seq 120); do
    phase=$(kubectl get rp "$name" -n $ns -o jsonpath='{.status.phase}' 2>/dev/null || true)
    case "$phase" in
      Completed) return 0 ;;
      Failed) kubectl get rp "$name" -n $ns -o jsonpath='{.status.failure.message}{"\n"}' >&2; return 1 ;;
    esac
    sleep 0.5
  done
  die "recovery point $name did not complete in 60 s"
}

# Takes an on-demand recovery point of a VM, as `kubectl apply` of a RecoveryPoint.
backup() {
  local vm=$1 name=$2
  kubectl apply -f - >/dev/null <<YAML
apiVersion: shadowkeep.io/v1alpha1
kind: RecoveryPoint
metadata: {name: $name, namespace: $ns}
spec: {protection: estate, vm: {name: $vm}, repository: primary, requestedMode: OnlineOrSavedState}
YAML
}

step "Starting a fresh local control plane (etcd, kube-apiserver, kube-controller-manager)"
hack/control-plane down >/dev/null 2>&1 || true
KUBECONFIG=$(hack/control-plane up)
export KUBECONFIG
echo "KUBECONFIG=$KUBECONFIG"

step "Installing Shadowkeep's CustomResourceDefinitions"
kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
kubectl wait --for=condition=Established --timeout=60s -f crds/ >/dev/null
show kubectl get crds -o custom-columns=NAME:.metadata.name,SHORT:.spec.names.shortNames

step "Building a simulated Hyper-V estate: cluster hvclu01 (hv-node-1, hv-node-2) and standalone hv-node-3"
rm -rf "$demo"
mkdir -p "$logs" "$demo/repository" "$demo/guest-files"
head -c 2097152 /dev/urandom >"$demo/guest-files/quarterly-report.xlsx"
cp README.md "$demo/guest-files/web.config"
$sk sim host create hv-node-1 --cluster hvclu01
$sk sim host create hv-node-2 --cluster hvclu01
$sk sim host create hv-node-3
$sk sim vm create sql01 --host hv-node-1 --storage csv:Volume1 --disk 64M --file "$demo/guest-files/quarterly-report.xlsx" --running >/dev/null
$sk sim vm create web01 --host hv-node-2 --storage csv:Volume1 --disk 64M --file "$demo/guest-files/web.config" --running >/dev/null
$sk sim vm create legacy02 --host hv-node-2 --storage csv:Volume1 --disk 64M --running --os "Windows Server 2008 R2" >/dev/null
$sk sim ic legacy02 backup off
$sk sim vm create fs03 --host hv-node-1 --storage csv:Volume1 --disk 64M --pass-through 3 --running >/dev/null
$sk sim vm create linux04 --host hv-node-3 --storage smb:fs01/vms --disk 64M --linux --running >/dev/null
$sk sim vm create app05 --host hv-node-3 --storage smb:fs01/vms --disk 64M >/dev/null
show $sk sim vm list

step "Starting the controller and one agent per host (filehost backend)"
$sk controller --namespace $ns --no-leader-elect --metrics-port 0 >"$logs/controller.log" 2>&1 &
pids+=($!)
for node in hv-node-1 hv-node-2 hv-node-3; do
  $sk agent --node $node --hypervisor filehost --inventory-interval 2 >"$logs/agent-$node.log" 2>&1 &
  pids+=($!)
done
# The SQL-like VM keeps writing while it is backed up: the recovery point must still be consistent.
$sk sim write sql01 --writer --interval-ms 50 --count 100000 >"$logs/guest-writer.log" 2>&1 &
pids+=($!)
for _ in $(seq 60); do
  [ "$(kubectl get hvvm --no-headers 2>/dev/null | wc -l)" -ge 6 ] && break
  sleep 0.5
done
show kubectl get hvhost
show kubectl get hvvm

step "Applying the platform team's manifests, as a GitOps tool would"
sed -e "s|REPOSITORY_PATH|$demo/repository|" -e "s|DR_SITE_PATH|$demo/dr-site|" hack/demo/manifests.yaml |
  kubectl apply --server-side -f -
kubectl wait --for=jsonpath='{.status.phase}'=Available repo/primary -n $ns --timeout=60s >/dev/null
kubectl wait --for=condition=Ready vmp/estate -n $ns --timeout=60s >/dev/null
show kubectl get repo,vmp -n $ns
show kubectl get vmp estate -n $ns -o jsonpath='{range .status.vms[*]}{.name}{"\t"}{.mode}{"\t"}{.blockers[*].message}{"\n"}{end}'

step "Taking the initial replica of every VM (on-demand recovery points)"
for vm in sql01 web01 legacy02 fs03 linux04 app05; do backup $vm "$vm-initial"; done
for vm in sql01 web01 legacy02 fs03 linux04 app05; do wait_point "$vm-initial"; done
show kubectl get rp -n $ns

step "Live-migrating sql01 from hv-node-1 to hv-node-2, then backing it up again"
$sk sim migrate sql01 --to hv-node-2
for _ in $(seq 60); do
  [ "$(kubectl get hvvm -o jsonpath='{.items[?(@.status.vmName=="sql01")].status.host}')" = hv-node-2 ] && break
  sleep 0.5
done
backup sql01 sql01-after-migration
wait_point sql01-after-migration
show kubectl get rp -n $ns -l shadowkeep.io/vm=sql01 -o custom-columns=NAME:.metadata.name,NODE:.status.nodeName,METHOD:.status.method,PARENT:.status.parent,CONSISTENCY:.status.consistency,READ:.status.disks[0].readBytes,NEW:.status.uploaded

step "The inventory now says who protects each VM and its last recovery point"
show kubectl get hvvm

step "Restoring one file from the newest sql01 recovery point (no disk restore)"
kubectl get secret primary-repository-key -n $ns -o jsonpath='{.data.password}' | base64 -d >"$demo/repository.key"
manifest=$(kubectl get rp sql01-after-migration -n $ns -o jsonpath='{.status.disks[0].manifest}')
repo_args=(--manifest "$manifest" --repo "file://$demo/repository" --key-file "$demo/repository.key")
show $sk files ls "${repo_args[@]}" /
mkdir -p "$demo/restored"
show $sk files get "${repo_args[@]}" /quarterly-report.xlsx --out "$demo/restored"
if cmp -s "$demo/guest-files/quarterly-report.xlsx" "$demo/restored/quarterly-report.xlsx"; then
  echo "restored quarterly-report.xlsx is identical to the file written into the guest"
else
  die "the restored file differs from the original"
fi

step "Proving the newest sql01 point boots: a test VM on an isolated switch, started until its heartbeat answers, then removed"
show ./bin/kubectl-shadowkeep verify sql01-after-migration -n $ns --level Boot --timeout 2m
show kubectl get vmrestore -n $ns -l shadowkeep.io/verification=Boot \
  -o custom-columns=NAME:.metadata.name,HOST:.status.nodeName,PHASE:.status.phase,BOOTED:.status.bootTest.booted,HEARTBEAT:.status.bootTest.heartbeat,REMOVED:.status.bootTest.removed

step "Offsite copies: every recovery point reaches dr-site, sending only the chunks it lacks"
for _ in $(seq 120); do
  copied=$(kubectl get rp -n $ns -o jsonpath='{range .items[*]}{.status.copies[?(@.repository=="dr-site")].phase}{"\n"}{end}' | grep -c '^Completed$' || true)
  [ "$copied" -ge 7 ] && break
  sleep 0.5
done
[ "$copied" -ge 7 ] || die "only $copied of 7 recovery points reached dr-site"
show kubectl get rp -n $ns -o custom-columns=NAME:.metadata.name,UPLOADED:.status.uploaded,OFFSITE:.status.copies[*].repository,PHASE:.status.copies[*].phase,SENT:.status.copies[*].copiedBytes

step "Checking both repositories end to end (every chunk decrypted and verified)"
show $sk repo check --read-data --repo "file://$demo/repository" --key-file "$demo/repository.key"
kubectl get secret dr-site-key -n $ns -o jsonpath='{.data.password}' | base64 -d >"$demo/dr-site.key"
show $sk repo check --read-data --repo "file://$demo/dr-site" --key-file "$demo/dr-site.key"

if $once; then
  step "Demo finished: every step succeeded"
  exit 0
fi
step "The estate keeps running. Try: kubectl get rp -n $ns -w   (KUBECONFIG=$KUBECONFIG)"
echo "Press Ctrl-C to stop the controller and agents (the control plane stays up: make control-plane-down)."
wait
