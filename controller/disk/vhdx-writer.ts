/**
 * Creates dynamic VHDX files for restores: blocks holding any data are allocated, all-zero blocks
 * are left NOT_PRESENT, and zero ranges inside allocated blocks stay holes in a sparse file.
 * Creation writes the metadata; data is then written at `vhdxFileOffset` by any number of writers.
 */
import { open } from 'node:fs/promises';
import { layoutVhdx, type LayoutBlockState, type VhdxGeometry } from './vhdx-layout.js';

/** Creates (or replaces) `path`, allocating the blocks for which `hasData(block)` is true; returns each block's file offset (-1 if none). */
export async function createDynamicVhdx(
  path: string,
  geometry: VhdxGeometry,
  hasData: (block: number) => boolean,
): Promise<number[]> {
  const blocks = Array.from(
    { length: Math.ceil(geometry.virtualSize / geometry.blockSize) },
    (_, b): LayoutBlockState => (hasData(b) ? 'full' : 'notPresent'),
  );
  const layout = layoutVhdx({ ...geometry, blocks });
  const handle = await open(path, 'w');
  try {
    await handle.truncate(layout.fileSize);
    await handle.write(layout.prefix, 0, layout.prefix.length, 0);
  } finally {
    await handle.close();
  }
  return layout.blockOffsets;
}

/** Where guest bytes at `virtualOffset` go in the file; the range must lie inside one allocated block. */
export function vhdxFileOffset(
  blockOffsets: readonly number[],
  blockSize: number,
  virtualOffset: number,
  length: number,
): number {
  const block = Math.floor(virtualOffset / blockSize);
  const within = virtualOffset - block * blockSize;
  const base = blockOffsets[block] ?? -1;
  if (base < 0 || within + length > blockSize) {
    throw new RangeError(`write ${virtualOffset}+${length} does not fit in an allocated block`);
  }
  return base + within;
}
