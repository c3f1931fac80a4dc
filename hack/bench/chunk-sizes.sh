#!/usr/bin/env bash
# Measures how the chunk size trades repository growth against speed, on the data set and
# mutations a `make bench` run left in WORK: backs up the pristine disk, then the mutated one,
# for each chunk size, and prints growth per byte the guest changed.
#   hack/bench/chunk-sizes.sh [WORK (default /tmp/shadowkeep-bench)] [SIZES (default "64K 256K 1M 4M")]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=hack/lib.sh
source "$root/hack/lib.sh"
work=${1:-/tmp/shadowkeep-bench} sizes=${2:-64K 256K 1M 4M}
sk() { node "$root/dist/controller/cli/main.js" "$@"; }
export SHADOWKEEP_KEY_FILE=$work/chunk-sizes.key
changed=$(node -e "const fs=require('fs');let n=0;for(const f of process.argv.slice(1))for(const r of JSON.parse(fs.readFileSync(f,'utf8')))n+=r.length;console.log(n)" "$work"/mutations/r*.json)
printf '%-6s %12s %12s %10s %14s %10s\n' chunk full_s incr_s growth_MB growth/changed manifest_KB
for size in $sizes; do
  repo=$work/chunk-size-$size
  rm -rf "$repo" "$SHADOWKEEP_KEY_FILE"
  sk repo init --repo "$repo" --chunk-size "$size" >/dev/null
  full=$(sk disk backup --repo "$repo" --disk "$work/pristine.vhdx" --name d --json | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).seconds.toFixed(2)))")
  incr=$(sk disk backup --repo "$repo" --disk "$work/src/disk.vhdx" --name d --json)
  manifest_kb=$(($(find "$repo/manifests" -type f -printf '%s\n' | sort -n | tail -1) / 1024))
  node -e "const r=JSON.parse(process.argv[1]);console.log([process.argv[2].padEnd(6),process.argv[3].padStart(12),r.seconds.toFixed(2).padStart(12),(r.bytesUploaded/1e6).toFixed(1).padStart(10),(r.bytesUploaded/Number(process.argv[4])).toFixed(2).padStart(14),process.argv[5].padStart(10)].join(' '))" "$incr" "$size" "$full" "$changed" "$manifest_kb"
  rm -rf "$repo"
done
echo "guest data changed: $((changed / 1000000)) MB"
