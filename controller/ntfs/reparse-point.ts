import { CorruptVolumeError } from './errors.js';

const Tags = {
  mountPoint: 0xa0000003,
  symlink: 0xa000000c,
  dedup: 0x80000013,
  wof: 0x80000017,
} as const;

export interface ReparsePoint {
  tag: number;
  /** Link target for symbolic links and junctions, as Windows prints it. */
  target: string | null;
}

/** Reads the target out of a symlink or mount-point reparse buffer (their layouts differ by one field). */
function linkTarget(value: Buffer, headerLength: number): string {
  const pathBuffer = 8 + headerLength;
  const read = (offset: number, length: number) => {
    if (pathBuffer + offset + length > value.length) {
      throw new CorruptVolumeError('reparse point: link target overruns the attribute');
    }
    return value.toString('utf16le', pathBuffer + offset, pathBuffer + offset + length);
  };
  const printName = read(value.readUInt16LE(12), value.readUInt16LE(14));
  return printName !== '' ? printName : read(value.readUInt16LE(8), value.readUInt16LE(10));
}

export function parseReparsePoint(value: Buffer): ReparsePoint {
  if (value.length < 8) {
    throw new CorruptVolumeError(`reparse point of ${value.length} bytes is too short`);
  }
  const tag = value.readUInt32LE(0);
  if (tag === Tags.symlink && value.length >= 20) {
    return { tag, target: linkTarget(value, 12) };
  }
  if (tag === Tags.mountPoint && value.length >= 16) {
    return { tag, target: linkTarget(value, 8) };
  }
  return { tag, target: null };
}

/** Why a reparse point's data cannot be read in place: its real content lives elsewhere. */
export function describeReparsePoint(point: ReparsePoint): string {
  switch (point.tag) {
    case Tags.symlink:
      return `a symbolic link to "${point.target ?? ''}"`;
    case Tags.mountPoint:
      return `a junction to "${point.target ?? ''}"`;
    case Tags.wof:
      return 'WOF-compressed (compact OS)';
    case Tags.dedup:
      return 'deduplicated by Windows Server Data Deduplication (data lives in the chunk store)';
    default:
      return `a reparse point with tag 0x${point.tag.toString(16)}`;
  }
}
