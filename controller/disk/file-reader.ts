import type { FileHandle } from 'node:fs/promises';
import { DiskFormatError } from './errors.js';

/**
 * Positional reads from an image file that insist on getting every byte asked for: a short read
 * means the file is truncated, which callers must report rather than treat as zeros.
 */
export class ImageFile {
  constructor(
    readonly path: string,
    readonly handle: FileHandle,
    readonly size: number,
  ) {}

  async readExactInto(target: Uint8Array, position: number, what: string): Promise<void> {
    if (position + target.length > this.size) {
      throw new DiskFormatError(
        this.path,
        `${what} at byte ${position} (+${target.length}) lies past the end of the ${this.size}-byte file (truncated?)`,
      );
    }
    let done = 0;
    while (done < target.length) {
      const { bytesRead } = await this.handle.read(target, done, target.length - done, position + done);
      if (bytesRead === 0) {
        throw new DiskFormatError(this.path, `file ended while reading ${what} at byte ${position + done}`);
      }
      done += bytesRead;
    }
  }

  async readExact(position: number, length: number, what: string): Promise<Buffer> {
    const buf = Buffer.alloc(length);
    await this.readExactInto(buf, position, what);
    return buf;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}
