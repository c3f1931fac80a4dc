#!/usr/bin/env bash
# `make bench`: benchmark Shadowkeep against restic, BorgBackup and Kopia on a VHDX holding an
# NTFS volume, through rounds of in-place changes (~2% of the guest's data each), then restore.
#   hack/bench.sh [--size GiB (default 2; headline 16)] [--rounds N (default 3)] [--work DIR]
# Prints a table and saves JSON under bench/results/. Needs root for apt and for cold-cache runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=hack/lib.sh
source "$root/hack/lib.sh"
cd "$root"

size=2 rounds=3 work=${SHADOWKEEP_BENCH_DIR:-/tmp/shadowkeep-bench}
while [ $# -gt 0 ]; do
  case $1 in
    --size) size=${2%G}; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) die "unknown option $1 (use --size GiB, --rounds N, --work DIR)" ;;
  esac
done

# Peers from Debian; a current restic and Kopia from Go modules when Go is available.
missing=()
command -v restic >/dev/null || missing+=(restic)
command -v borg >/dev/null || missing+=(borgbackup)
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "install ${missing[*]} (apt-get install ${missing[*]}) or run as root"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if command -v go >/dev/null; then
  hack/tools/build.sh kopia restic || log "building Kopia/restic from Go modules failed; benchmarking without them"
fi

[ -f dist/hack/bench/run.js ] || tsc -p tsconfig.json
mkdir -p "$work"
stamp="$work/dataset-${size}G.done"
if [ ! -f "$stamp" ]; then
  log "building the ${size} GiB data set in $work (NTFS volume via mkntfs + wimapply, VHDX via qemu-img)"
  rm -f "$work"/dataset-*.done
  hack/bench/make-dataset.sh "$size" "$work"
  cp "$work/src/disk.vhdx" "$work/pristine.vhdx"
  touch "$stamp"
else
  cp "$work/pristine.vhdx" "$work/src/disk.vhdx"
fi
node dist/hack/bench/run.js --work "$work" --rounds "$rounds" --results bench/results
# Item-level recovery: one file out of a recovery point vs the peers' whole-disk restore.
hack/bench/ilr.sh --size "$size"
