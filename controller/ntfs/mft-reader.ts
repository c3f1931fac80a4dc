import type { ByteSource } from '../common/byte-source.js';
import { parseMftRecord, type MftRecord } from './mft-record.js';

/** MFT records are read this many at a time: neighbours in a directory usually sit side by side. */
const RECORDS_PER_BLOCK = 64;
const CACHED_BLOCKS = 32;

/** Reads MFT records through the $MFT's own data stream, with a small LRU cache of record blocks. */
export class MftReader {
  private readonly blocks = new Map<number, Promise<Buffer>>();
  readonly recordCount: number;

  constructor(
    private readonly mft: ByteSource,
    private readonly recordSize: number,
    private readonly totalClusters: number,
  ) {
    this.recordCount = Math.floor(mft.size / recordSize);
  }

  private block(index: number): Promise<Buffer> {
    let block = this.blocks.get(index);
    if (block) {
      this.blocks.delete(index);
    } else {
      const start = index * RECORDS_PER_BLOCK * this.recordSize;
      block = this.mft.read(start, Math.min(RECORDS_PER_BLOCK * this.recordSize, this.mft.size - start));
      // A failed read must not stay cached as a rejected promise.
      block.catch(() => this.blocks.delete(index));
      if (this.blocks.size >= CACHED_BLOCKS) {
        const oldest = this.blocks.keys().next().value;
        if (oldest !== undefined) {
          this.blocks.delete(oldest);
        }
      }
    }
    this.blocks.set(index, block);
    return block;
  }

  async read(number: number): Promise<MftRecord> {
    if (!Number.isInteger(number) || number < 0 || number >= this.recordCount) {
      throw new RangeError(`MFT record ${number} does not exist (the MFT holds ${this.recordCount})`);
    }
    const block = await this.block(Math.floor(number / RECORDS_PER_BLOCK));
    const offset = (number % RECORDS_PER_BLOCK) * this.recordSize;
    return parseMftRecord(block.subarray(offset, offset + this.recordSize), number, this.totalClusters);
  }
}
