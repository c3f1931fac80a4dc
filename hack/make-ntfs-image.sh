#!/usr/bin/env bash
# Builds a disk image holding an NTFS volume with the contents of a source tree, for ILR tests and demos.
# No root, loop device or FUSE is needed for the default path: mkntfs formats a partition image file,
# wimapply (wimtools) writes the tree onto it, ntfsfallocate/ntfscp fragment chosen files, and sgdisk or
# sfdisk lay out the partition table around it. Only --compressed needs an ntfs-3g FUSE mount (root).
#
# Usage: make-ntfs-image.sh [options] SOURCE_DIR OUT_IMAGE
#   --table gpt|mbr|none  GPT: 1 MiB EFI system partition, then NTFS as partition 2.
#                         MBR: a small FAT32-typed primary, then NTFS as logical partition 5 in an extended one.
#                         none: the image is the bare volume (default gpt).
#   --size-mib N          image size (default: twice the tree plus 48 MiB).
#   --fragment A,B        two files of the tree (absolute volume paths) to write as interleaved 64 KiB runs.
#   --compressed DIR      copy DIR to /compressed on the volume with NTFS compression on (needs FUSE).
#   --ads PATH:NAME=FILE  give the volume file PATH an alternate data stream NAME holding FILE's bytes.
#   --cluster N           cluster size in bytes (default 4096).
set -euo pipefail

table=gpt size_mib='' fragment='' compressed='' cluster=4096 ads=''
while [ $# -gt 2 ]; do
  case $1 in
    --table) table=$2; shift 2 ;;
    --size-mib) size_mib=$2; shift 2 ;;
    --fragment) fragment=$2; shift 2 ;;
    --compressed) compressed=$2; shift 2 ;;
    --cluster) cluster=$2; shift 2 ;;
    --ads) ads=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ $# -eq 2 ] || { sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
src=$(cd "$1" && pwd) out=$2
work=$(mktemp -d)
trap 'mountpoint -q "$work/mnt" 2>/dev/null && umount "$work/mnt"; rm -rf "$work"' EXIT

if [ -z "$size_mib" ]; then
  used=$(du -sm --apparent-size "$src" | cut -f1)
  extra=0; [ -n "$compressed" ] && extra=$(du -sm --apparent-size "$compressed" | cut -f1)
  size_mib=$(((used + extra) * 2 + 48))
fi

# Partition layout first: it decides where the volume starts (mkntfs records that in the boot sector).
rm -f "$out"; truncate -s "${size_mib}M" "$out"
case $table in
  gpt)
    sgdisk -o -n 1:2048:+1M -t 1:EF00 -c 1:'EFI system' -n 2:0:0 -t 2:0700 -c 2:'Basic data partition' "$out" >/dev/null
    read -r start end < <(sgdisk -i 2 "$out" | awk '/First sector/{s=$3}/Last sector/{e=$3}END{print s,e}') ;;
  mbr)
    printf 'label: dos\nstart=2048, size=2048, type=c\nstart=4096, type=5\nstart=6144, type=7\n' | sfdisk -q "$out"
    read -r start sectors < <(sfdisk -d "$out" | awk -F'[=,]' '/type=7/{print $2+0, $4+0}')
    end=$((start + sectors - 1)) ;;
  none) start=0 end=$((size_mib * 2048 - 1)) ;;
  *) echo "unknown table $table" >&2; exit 2 ;;
esac

part=$work/part.img
truncate -s $(((end - start + 1) * 512)) "$part"
mkntfs -F -Q -q -s 512 -c "$cluster" -p "$start" -H 255 -S 63 -L shadowkeep-test "$part" >/dev/null 2>&1

# wimapply writes directories, hard links, sparse files and timestamps straight onto the unmounted volume.
IFS=, read -r -a fragmented <<<"$fragment"
{ echo '[ExclusionList]'; for f in "${fragmented[@]}"; do echo "$f"; done; } >"$work/capture.ini"
wimcapture "$src" "$work/tree.wim" --compress=none --config="$work/capture.ini" >/dev/null
wimapply "$work/tree.wim" 1 "$part" >/dev/null

# Interleave the fragmented files' allocations 64 KiB at a time, then write their data in place:
# ntfscp reuses the clusters ntfsfallocate reserved, so every 64 KiB lands in its own run.
# (ntfs-3g crashes once a runlist needs an attribute list, so keep these files under ~5 MiB.)
if [ ${#fragmented[@]} -gt 0 ]; then
  empty=$work/empty; : >"$empty"
  for f in "${fragmented[@]}"; do ntfscp -q "$part" "$empty" "$f"; done
  chunk=65536 offset=0 more=true
  while $more; do
    more=false
    for f in "${fragmented[@]}"; do
      if [ "$offset" -lt "$(stat -c %s "$src$f")" ]; then
        ntfsfallocate -o "$offset" -l "$chunk" "$part" "$f" >/dev/null 2>&1
        more=true
      fi
    done
    offset=$((offset + chunk))
  done
  for f in "${fragmented[@]}"; do ntfscp -q "$part" "$src$f" "$f"; done
fi

if [ -n "$ads" ]; then
  ads_path=${ads%%:*} rest=${ads#*:}
  ntfscp -q -N "${rest%%=*}" "$part" "${rest#*=}" "$ads_path"
fi

if [ -n "$compressed" ]; then
  mkdir "$work/mnt"
  ntfs-3g -o compression "$part" "$work/mnt"
  mkdir "$work/mnt/compressed"
  setfattr -h -v 0x00000800 -n system.ntfs_attrib_be "$work/mnt/compressed"
  cp -r "$compressed/." "$work/mnt/compressed/"
  umount "$work/mnt"
fi

dd if="$part" of="$out" bs=512 seek="$start" conv=notrunc,sparse status=none
echo "$out: $table, NTFS at byte $((start * 512)), $(((end - start + 1) / 2048)) MiB"
