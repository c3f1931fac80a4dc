import type { ByteSource } from '../common/byte-source.js';
import type { ByteRange } from './ranges.js';

export type DiskFormat = 'vhdx' | 'vhd' | 'raw';

/**
 * A virtual disk opened read-only from an image file. Reads return the guest's view of the disk
 * (virtual offsets), whatever the file layout; `allocatedRanges` says where that view can differ
 * from zeros, so callers never read, hash or store the rest.
 */
export interface VirtualDisk extends ByteSource {
  readonly path: string;
  readonly format: DiskFormat;
  readonly logicalSectorSize: number;
  readonly physicalSectorSize: number;
  /** Sorted, merged ranges that may hold non-zero data; everything else reads as zeros. */
  allocatedRanges(): readonly ByteRange[];
  /** Fills `target` with the bytes at `offset`: the allocation-free form of `read` for hot loops. */
  readInto(offset: number, target: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** The RangeError every reader gives for reads outside the disk, as ByteSource promises. */
export function assertInside(size: number, offset: number, length: number): void {
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(length) ||
    offset < 0 ||
    length < 0 ||
    offset + length > size
  ) {
    throw new RangeError(`read ${offset}+${length} lies outside a disk of ${size} bytes`);
  }
}

/** `read` for readers whose real work is `readInto`: one fresh buffer, filled in place. */
export async function readThroughInto(
  disk: Pick<VirtualDisk, 'size' | 'readInto'>,
  offset: number,
  length: number,
): Promise<Buffer> {
  assertInside(disk.size, offset, length);
  const buf = Buffer.allocUnsafe(length);
  await disk.readInto(offset, buf);
  return buf;
}
