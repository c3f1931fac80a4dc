/**
 * Writes a dynamic VHDX for restores: blocks holding any data are allocated, all-zero blocks are
 * left NOT_PRESENT, and zero ranges inside allocated blocks stay holes in a sparse file.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { layoutVhdx, type LayoutBlockState, type VhdxGeometry } from './vhdx-layout.js';

export class DynamicVhdxWriter {
  private constructor(
    private readonly handle: FileHandle,
    private readonly geometry: VhdxGeometry,
    private readonly blockOffsets: readonly number[],
  ) {}

  /** Creates (or replaces) `path`, allocating the blocks for which `hasData(block)` is true. */
  static async create(
    path: string,
    geometry: VhdxGeometry,
    hasData: (block: number) => boolean,
  ): Promise<DynamicVhdxWriter> {
    const blocks = Array.from(
      { length: Math.ceil(geometry.virtualSize / geometry.blockSize) },
      (_, b): LayoutBlockState => (hasData(b) ? 'full' : 'notPresent'),
    );
    const layout = layoutVhdx({ ...geometry, blocks });
    const handle = await open(path, 'w');
    try {
      await handle.truncate(layout.fileSize);
      await handle.write(layout.prefix, 0, layout.prefix.length, 0);
    } catch (err) {
      await handle.close();
      throw err;
    }
    return new DynamicVhdxWriter(handle, geometry, layout.blockOffsets);
  }

  /** Writes guest data at a virtual offset; the range must lie inside one allocated block. */
  async write(virtualOffset: number, data: Uint8Array): Promise<void> {
    const { blockSize } = this.geometry;
    const block = Math.floor(virtualOffset / blockSize);
    const within = virtualOffset - block * blockSize;
    const base = this.blockOffsets[block] ?? -1;
    if (base < 0 || within + data.length > blockSize) {
      throw new RangeError(`write ${virtualOffset}+${data.length} does not fit in an allocated block`);
    }
    await this.handle.write(data, 0, data.length, base + within);
  }

  async close(): Promise<void> {
    try {
      await this.handle.sync();
    } finally {
      await this.handle.close();
    }
  }
}
