import { open } from 'node:fs/promises';
import { ImageFile } from './file-reader.js';
import type { ByteRange } from './ranges.js';
import { assertInside, type VirtualDisk } from './virtual-disk.js';

/**
 * A raw image: the file is the disk. Node cannot ask for holes (no SEEK_DATA), so the whole file
 * counts as allocated and all-zero chunks are recognised by content instead.
 */
export class RawDisk implements VirtualDisk {
  readonly format = 'raw';
  readonly logicalSectorSize = 512;
  readonly physicalSectorSize = 512;

  private constructor(private readonly file: ImageFile) {}

  static async open(path: string): Promise<RawDisk> {
    const handle = await open(path, 'r');
    return new RawDisk(new ImageFile(path, handle, (await handle.stat()).size));
  }

  get path(): string {
    return this.file.path;
  }
  get size(): number {
    return this.file.size;
  }

  allocatedRanges(): readonly ByteRange[] {
    return this.size > 0 ? [{ offset: 0, length: this.size }] : [];
  }

  async read(offset: number, length: number): Promise<Buffer> {
    assertInside(this.size, offset, length);
    return this.file.readExact(offset, length, 'data');
  }

  async readInto(offset: number, target: Uint8Array): Promise<void> {
    assertInside(this.size, offset, target.length);
    await this.file.readExactInto(target, offset, 'data');
  }

  close(): Promise<void> {
    return this.file.close();
  }
}
