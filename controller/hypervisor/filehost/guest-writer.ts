/**
 * A guest that keeps writing: fills consecutive blocks with self-describing content, so a test or a
 * person can read a disk (or a restore of it) and tell exactly which writes it holds.
 */
import type { SimCluster } from './sim.js';

const magic = 'SKW1';

export interface GuestWriterOptions {
  blockSize?: number;
  /**
   * First byte of the area the writer cycles through; defaults to the last quarter of the disk,
   * clear of the NTFS metadata at the start and middle of a fresh volume.
   */
  startOffset?: number;
  /** Bytes the writer cycles through, from `startOffset`. */
  areaBytes?: number;
  intervalMs?: number;
  /** Stop after this many writes; without it the writer runs until `signal` aborts. */
  count?: number;
  signal?: AbortSignal;
  onWrite?: (write: { index: number; offset: number; length: number }) => void;
}

/** The content of write number `index`: a header naming it, then a fill byte derived from it. */
export function guestBlock(index: number, blockSize: number): Buffer {
  const block = Buffer.alloc(blockSize, (index % 255) + 1);
  block.write(magic, 0, 'ascii');
  block.writeUInt32LE(index, 4);
  return block;
}

/** The write number a block holds, or undefined for a block the writer never wrote. */
export function blockIndex(block: Buffer): number | undefined {
  return block.toString('ascii', 0, 4) === magic ? block.readUInt32LE(4) : undefined;
}

export async function runGuestWriter(
  sim: SimCluster,
  vmId: string,
  options: GuestWriterOptions = {},
): Promise<number> {
  const vm = await sim.vm(vmId);
  const size = vm.disks.find((d) => d.path !== undefined)?.virtualSize ?? 0;
  const blockSize = options.blockSize ?? 4096;
  const start = options.startOffset ?? Math.floor((size * 3) / 4 / blockSize) * blockSize;
  // The last 2 MiB hold the backup boot sector and the free tail of the disk: never written.
  const blocks = Math.max(1, Math.floor((options.areaBytes ?? size - start - 2 * 1024 * 1024) / blockSize));
  let index = 0;
  while (!options.signal?.aborted && (options.count === undefined || index < options.count)) {
    const offset = start + (index % blocks) * blockSize;
    await sim.guestWrite(vmId, offset, guestBlock(index, blockSize));
    options.onWrite?.({ index, offset, length: blockSize });
    index += 1;
    if (options.intervalMs) {
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
    }
  }
  return index;
}
