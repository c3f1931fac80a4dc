#!/usr/bin/env bash
# Builds the benchmark disk: a GPT disk with one NTFS volume holding a realistic file tree
# (small documentation files, slices of /usr/lib, incompressible media-like files), applied with
# wimapply onto the unmounted volume image, then converted to a dynamic VHDX by qemu-img.
#   hack/bench/make-dataset.sh SIZE OUT_DIR     (SIZE in GiB, e.g. 2)
# Writes OUT_DIR/src/disk.vhdx and OUT_DIR/dataset.json (partition offset/length, data bytes).
set -euo pipefail
size_gib=$1 out=$2
mkdir -p "$out/src" "$out/build"
b=$out/build
total=$((size_gib * 1024 * 1024 * 1024))

truncate -s "$total" "$b/disk.raw"
sgdisk -o -n 1:2048:0 -t 1:0700 "$b/disk.raw" >/dev/null 2>&1
read -r S E < <(sgdisk -i 1 "$b/disk.raw" | awk '/First sector/{s=$3}/Last sector/{e=$3}END{print s,e}')
rm -f "$b/part.img"
truncate -s $(((E - S + 1) * 512)) "$b/part.img"
mkntfs -F -Q -q -s 512 -c 4096 -p "$S" -H 255 -S 63 "$b/part.img" 2>/dev/null

# About 60% of the volume: a third each of small files, compressible tar slices, random files.
share=$((total * 6 / 10 / 3))
tree=$b/tree
rm -rf "$tree" && mkdir -p "$tree/docs" "$tree/lib" "$tree/media"
(cd /usr/share/doc && find . -type f -size -256k -print0 | head -z -n 20000 | tar --null -cf - -T - 2>/dev/null) |
  head -c "$share" | (cd "$tree/docs" && tar xf - 2>/dev/null || true)
slice=$((32 * 1024 * 1024)) i=0
tar cf - /usr/lib /usr/share 2>/dev/null | head -c "$share" | split -b "$slice" -d -a 4 - "$tree/lib/slice-" || true
seed=0 done_bytes=0
while [ "$done_bytes" -lt "$share" ]; do
  n=$(((seed % 8 + 1) * 4 * 1024 * 1024))
  head -c "$n" /dev/urandom >"$tree/media/file-$seed.bin"
  done_bytes=$((done_bytes + n)) seed=$((seed + 1))
done
wimcapture "$tree" "$b/tree.wim" --compress=none >/dev/null
wimapply "$b/tree.wim" 1 "$b/part.img" >/dev/null
data_bytes=$(du -sb "$tree" | cut -f1)

dd if="$b/part.img" of="$b/disk.raw" bs=1M seek=$((S * 512 / 1048576)) conv=notrunc,sparse status=none
qemu-img convert -f raw -O vhdx -o subformat=dynamic "$b/disk.raw" "$out/src/disk.vhdx"
cat >"$out/dataset.json" <<JSON
{"virtualSize": $total, "partitionOffset": $((S * 512)), "partitionLength": $(((E - S + 1) * 512)), "guestDataBytes": $data_bytes}
JSON
rm -rf "$b"
