import { CorruptVolumeError } from './errors.js';

/** A contiguous piece of an attribute: `length` clusters from `vcn`, stored at `lcn`, or a hole when null. */
export interface Run {
  vcn: number;
  length: number;
  lcn: number | null;
}

/**
 * Decodes a mapping-pairs array. Every header byte gives the byte sizes of a length (low nibble) and a
 * signed LCN delta (high nibble); a zero-size delta is a sparse run. Runs are checked against the
 * volume so a damaged list fails here rather than reading some other file's clusters.
 */
export function decodeRunlist(bytes: Buffer, startVcn: number, totalClusters: number): Run[] {
  const runs: Run[] = [];
  let pos = 0;
  let vcn = startVcn;
  let lcn = 0;
  while (pos < bytes.length && bytes[pos] !== 0) {
    const header = bytes[pos] ?? 0;
    const lengthSize = header & 0x0f;
    const offsetSize = header >> 4;
    if (
      lengthSize === 0 ||
      lengthSize > 8 ||
      offsetSize > 8 ||
      pos + 1 + lengthSize + offsetSize > bytes.length
    ) {
      throw new CorruptVolumeError(`runlist: malformed run header 0x${header.toString(16)} at byte ${pos}`);
    }
    const length = readUnsigned(bytes, pos + 1, lengthSize);
    if (length <= 0) {
      throw new CorruptVolumeError(`runlist: run of ${length} clusters at byte ${pos}`);
    }
    if (offsetSize === 0) {
      runs.push({ vcn, length, lcn: null });
    } else {
      lcn += readSigned(bytes, pos + 1 + lengthSize, offsetSize);
      if (lcn < 0 || lcn + length > totalClusters) {
        throw new CorruptVolumeError(
          `runlist: clusters ${lcn}–${lcn + length - 1} lie outside the volume's ${totalClusters} clusters`,
        );
      }
      runs.push({ vcn, length, lcn });
    }
    vcn += length;
    pos += 1 + lengthSize + offsetSize;
  }
  return runs;
}

/** Little-endian unsigned integer of 1–8 bytes (Buffer's own readers stop at 6). */
function readUnsigned(buf: Buffer, offset: number, size: number): number {
  let value = 0;
  for (let i = size - 1; i >= 0; i--) {
    value = value * 256 + (buf[offset + i] ?? 0);
  }
  return value;
}

/** Little-endian signed integer of 1–8 bytes; magnitudes beyond 2^53 cannot be valid cluster numbers anyway. */
function readSigned(buf: Buffer, offset: number, size: number): number {
  const unsigned = readUnsigned(buf, offset, size);
  const negative = ((buf[offset + size - 1] ?? 0) & 0x80) !== 0;
  return negative ? unsigned - 2 ** (8 * size) : unsigned;
}
