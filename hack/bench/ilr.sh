#!/usr/bin/env bash
# Item-level recovery benchmark (issue 5), separate from hack/bench.sh so either runs alone:
#   fetch one 2 MiB file from a recovery point (wall time, bytes read from the repository),
#   list a directory of 10,000 files, `files find` over N recovery points, and the peers' way to the
#   same file: restore the whole VHDX with restic / Borg, convert it and read the file with ntfscat.
#   hack/bench/ilr.sh [--size GiB (default 2; headline 16)] [--points N (default 30)] [--work DIR] [--no-peers]
# Prints a table and writes bench/results/ilr-<size>G-<time>.json. Cold-cache runs need root.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=hack/lib.sh
source "$root/hack/lib.sh"
cd "$root"

size=2 points=30 work=${SHADOWKEEP_BENCH_DIR:-/tmp/shadowkeep-bench}/ilr peers=true
while [ $# -gt 0 ]; do
  case $1 in
    --size) size=${2%G}; shift 2 ;;
    --points) points=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --no-peers) peers=false; shift ;;
    *) die "unknown option $1 (use --size GiB, --points N, --work DIR, --no-peers)" ;;
  esac
done
[ -x dist/controller/cli/main.js ] || [ -f dist/controller/cli/main.js ] || tsc -b
sk() { node "$root/dist/controller/cli/main.js" "$@"; }
# The files command on its own: what `shadowkeep files` costs once the CLI stops loading every
# other command's dependencies (Kubernetes client and all) at start-up.
skf() {
  node --input-type=module -e "const { filesCommand } = await import('$root/dist/controller/ilr/cli.js');
    process.exitCode = await filesCommand.run(process.argv.slice(1));" -- "$@"
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.3f", b-a}'; }
drop_caches() { sync; [ "$(id -u)" -eq 0 ] && echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }
median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

# --- data set: a GPT disk whose NTFS volume holds media-like random files (about 40% of the disk),
# the 2 MiB file to fetch, and a directory of 10,000 small files; stored as a dynamic VHDX.
mkdir -p "$work"
disk=$work/disk-${size}G.vhdx
if [ ! -f "$disk" ]; then
  log "building the ${size} GiB ILR data set in $work"
  tree=$work/tree
  rm -rf "$tree" && mkdir -p "$tree/media" "$tree/wanted" "$tree/many"
  target=$((size * 1024 * 1024 * 1024 * 4 / 10)) written=0 i=0
  while [ "$written" -lt "$target" ]; do
    n=$(((i % 8 + 1) * 8 * 1024 * 1024))
    head -c "$n" /dev/urandom >"$tree/media/clip-$i.bin"
    written=$((written + n)) i=$((i + 1))
  done
  head -c $((2 * 1024 * 1024)) /dev/urandom >"$tree/wanted/report-2mb.bin"
  for j in $(seq -w 0 9999); do echo "small file $j" >"$tree/many/file-$j.txt"; done
  hack/make-ntfs-image.sh --table gpt --size-mib $((size * 1024)) "$tree" "$work/disk.raw" >/dev/null
  qemu-img convert -f raw -O vhdx -o subformat=dynamic "$work/disk.raw" "$disk"
  rm -f "$work/disk.raw"
  sha256sum "$tree/wanted/report-2mb.bin" | cut -d' ' -f1 >"$work/report.sha256"
  rm -rf "$tree/media" "$tree/many"
fi
want=$(cat "$work/report.sha256")

# --- Shadowkeep: one full backup, then N-1 incrementals as RCT reports them for an idle VM (no
# changed ranges); every backup stores its catalog, as `disk backup` does by default.
export SHADOWKEEP_REPO=file://$work/repo SHADOWKEEP_KEY_FILE=$work/key
rm -rf "$work/repo" "$work/key"
sk repo init >/dev/null
: >"$work/no-changes"
start=$(now)
manifest=$(sk disk backup --disk "$disk" --name bench-vm/disk0 --json | sed -n 's/.*"manifest": "\(.*\)".*/\1/p')
full_backup_s=$(elapsed "$start")
for _ in $(seq 2 "$points"); do
  sk disk backup --disk "$disk" --name bench-vm/disk0 --changed-ranges "$work/no-changes" --json >/dev/null
done

runs() { # runs cold|warm N CMD...: median wall seconds over N runs of CMD
  local mode=$1 n=$2; shift 2
  for _ in $(seq "$n"); do
    if [ "$mode" = cold ]; then drop_caches; fi
    local s; s=$(now); "$@" >/dev/null 2>"$work/last.err"; elapsed "$s"; echo
  done | median
}
both() { echo "$(runs cold 3 "$@") $(runs warm 3 "$@")"; }
out=$work/out
fetch() { rm -rf "$out" && mkdir -p "$out" && skf get --manifest "$manifest" /wanted/report-2mb.bin --out "$out"; }
read -r startup_cold startup_warm < <(both sk --help)
read -r get_cold get_warm < <(both fetch)
fetched=$(sed -n 's/^read \(.*\) from the repository$/\1/p' "$work/last.err")
[ "$(sha256sum "$out/report-2mb.bin" | cut -d' ' -f1)" = "$want" ] || die "fetched file differs from the source"
read -r ls_cold ls_warm < <(both skf ls --manifest "$manifest" /many)
listed=$(sk files ls --manifest "$manifest" /many 2>/dev/null | wc -l)
read -r find_cold find_warm < <(both skf find report-2mb.bin)
found=$(sk files find report-2mb.bin 2>/dev/null | grep -c bench-vm)

# --- peers: no VHDX or NTFS support, so restore the whole disk, convert it, and read the file.
peer_json=''
peer_rows=''
partition_offset=$(sk files volumes --disk "$disk" | awk '$5 == "ntfs" {print $2; exit}')
read_file_from() { # read_file_from VHDX: raw conversion, then ntfscat on the partition
  qemu-img convert -f vhdx -O raw "$1" "$work/peer.raw"
  dd if="$work/peer.raw" of="$work/peer-part.raw" bs=1M skip=$((partition_offset / 1048576)) conv=sparse status=none
  ntfscat "$work/peer-part.raw" /wanted/report-2mb.bin >"$work/peer-file"
  rm -f "$work/peer.raw" "$work/peer-part.raw"
  [ "$(sha256sum "$work/peer-file" | cut -d' ' -f1)" = "$want" ]
}
if $peers; then
  ln -sf "$disk" "$work/disk.vhdx"
  if command -v restic >/dev/null; then
    export RESTIC_REPOSITORY=$work/restic RESTIC_PASSWORD=bench RESTIC_CACHE_DIR=$work/cache/restic
    rm -rf "$RESTIC_REPOSITORY" && restic init --repository-version 2 -q
    (cd "$work" && restic backup -q --compression auto "$(readlink -f disk.vhdx)")
    restic_fetch() { restic dump -q latest "$(readlink -f "$work/disk.vhdx")" >"$work/restored.vhdx" && read_file_from "$work/restored.vhdx"; }
    restic_s=$(runs cold 1 restic_fetch)
    rm -f "$work/restored.vhdx"
    peer_json+="\"restic\": $restic_s, "
    peer_rows+=$(printf '\n  %-44s %8s s' 'restic: dump VHDX + convert + ntfscat' "$restic_s")
  fi
  if command -v borg >/dev/null; then
    export BORG_REPO=$work/borg BORG_PASSPHRASE=bench BORG_BASE_DIR=$work/cache/borg
    rm -rf "$BORG_REPO" && borg init -e repokey >/dev/null 2>&1
    borg create -C zstd,3 ::full "$(readlink -f "$work/disk.vhdx")"
    borg_fetch() { borg extract --stdout ::full "$(readlink -f "$work/disk.vhdx" | sed 's|^/||')" >"$work/restored.vhdx" && read_file_from "$work/restored.vhdx"; }
    borg_s=$(runs cold 1 borg_fetch)
    rm -f "$work/restored.vhdx"
    peer_json+="\"borg\": $borg_s, "
    peer_rows+=$(printf '\n  %-44s %8s s' 'Borg: extract VHDX + convert + ntfscat' "$borg_s")
  fi
fi

mkdir -p bench/results
result=bench/results/ilr-${size}G-$(date -u +%Y%m%dT%H%M%SZ).json
cat >"$result" <<JSON
{"sizeGiB": $size, "recoveryPoints": $points, "fullBackupSeconds": $full_backup_s,
 "cliStartupSeconds": {"cold": $startup_cold, "warm": $startup_warm},
 "get2MiB": {"cold": $get_cold, "warm": $get_warm, "readFromRepository": "$fetched"},
 "list10000": {"cold": $ls_cold, "warm": $ls_warm, "entries": $listed},
 "find": {"cold": $find_cold, "warm": $find_warm, "versionsFound": $found},
 "peersWholeRestoreSeconds": {${peer_json%, }}}
JSON
printf 'Item-level recovery, %s GiB disk, %s recovery points; wall time of the files command, median of 3\n' "$size" "$points"
printf '  %-44s %8s %8s\n' '' 'cold' 'warm'
printf '  %-44s %8s %8s s   (rows below load only the files command)\n' 'shadowkeep --help (whole CLI start-up)' "$startup_cold" "$startup_warm"
printf '  %-44s %8s %8s s   read %s from the repository\n' 'files get: one 2 MiB file' "$get_cold" "$get_warm" "$fetched"
printf '  %-44s %8s %8s s   %s entries\n' 'files ls: directory of 10,000 files' "$ls_cold" "$ls_warm" "$listed"
printf '  %-44s %8s %8s s   %s versions\n' "files find over $points recovery points" "$find_cold" "$find_warm" "$found"
if [ -n "$peer_rows" ]; then printf 'Peers, same file (restore the whole VHDX first, cold):%s\n' "$peer_rows"; fi
echo "saved $result"
