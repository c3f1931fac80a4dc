/**
 * Read-only legacy VHD reader (fixed and dynamic disks). The footer and the dynamic header carry
 * one's-complement checksums; the BAT maps each block to a sector offset, with a sector bitmap in
 * front of every stored block. Dynamic disks return the stored block whatever its bitmap says,
 * as Hyper-V and qemu do; only differencing disks (not supported here) consult the bitmap.
 */
import { open } from 'node:fs/promises';
import { DiskFormatError } from './errors.js';
import { ImageFile } from './file-reader.js';
import { mergeRanges, type ByteRange } from './ranges.js';
import { assertInside, type VirtualDisk, readThroughInto } from './virtual-disk.js';

const FOOTER_SIZE = 512;
const DYNAMIC_HEADER_SIZE = 1024;
const SECTOR = 512;
const UNALLOCATED = 0xffffffff;
const DiskType = { fixed: 2, dynamic: 3, differencing: 4 } as const;

/** Sum of all bytes with the checksum field skipped, one's-complemented. */
export function vhdChecksum(buf: Uint8Array, checksumOffset: number): number {
  let sum = 0;
  buf.forEach((byte, i) => {
    if (i < checksumOffset || i >= checksumOffset + 4) {
      sum += byte;
    }
  });
  return ~sum >>> 0;
}

export class VhdDisk implements VirtualDisk {
  readonly format = 'vhd';
  readonly logicalSectorSize = SECTOR;
  readonly physicalSectorSize = SECTOR;

  private constructor(
    private readonly file: ImageFile,
    readonly size: number,
    /** Dynamic disks: block size and the byte offset of each block's data, -1 if unallocated. */
    private readonly blockSize: number,
    private readonly blockData: Float64Array | undefined,
  ) {}

  get path(): string {
    return this.file.path;
  }

  static async open(path: string): Promise<VhdDisk> {
    const handle = await open(path, 'r');
    try {
      const file = new ImageFile(path, handle, (await handle.stat()).size);
      return await VhdDisk.parse(file);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  private static async parse(file: ImageFile): Promise<VhdDisk> {
    const fail = (problem: string): never => {
      throw new DiskFormatError(file.path, problem);
    };
    if (file.size < FOOTER_SIZE) {
      fail(`file is ${file.size} bytes, too small for a VHD footer`);
    }
    const footer = await file.readExact(file.size - FOOTER_SIZE, FOOTER_SIZE, 'footer');
    if (footer.toString('latin1', 0, 8) !== 'conectix') {
      fail("not a VHD file: missing 'conectix' footer signature (truncated?)");
    }
    if (footer.readUInt32BE(64) !== vhdChecksum(footer, 64)) {
      fail('footer checksum mismatch');
    }
    const size = Number(footer.readBigUInt64BE(48));
    const type = footer.readUInt32BE(60);
    if (size <= 0 || size % SECTOR !== 0) {
      fail(`virtual size ${size} is not a positive multiple of 512`);
    }
    if (type === DiskType.fixed) {
      if (size + FOOTER_SIZE > file.size) {
        fail(
          `fixed disk of ${size} bytes needs a ${size + FOOTER_SIZE}-byte file, found ${file.size} (truncated?)`,
        );
      }
      return new VhdDisk(file, size, size, undefined);
    }
    if (type === DiskType.differencing) {
      fail('differencing VHD files are not supported; merge the chain or convert to VHDX');
    }
    if (type !== DiskType.dynamic) {
      fail(`unknown disk type ${type}`);
    }
    const headerOffset = Number(footer.readBigUInt64BE(16));
    const header = await file.readExact(headerOffset, DYNAMIC_HEADER_SIZE, 'dynamic disk header');
    if (header.toString('latin1', 0, 8) !== 'cxsparse') {
      fail("dynamic disk header lacks its 'cxsparse' signature");
    }
    if (header.readUInt32BE(36) !== vhdChecksum(header, 36)) {
      fail('dynamic disk header checksum mismatch');
    }
    const tableOffset = Number(header.readBigUInt64BE(16));
    const entries = header.readUInt32BE(28);
    const blockSize = header.readUInt32BE(32);
    if (blockSize < SECTOR || (blockSize & (blockSize - 1)) !== 0) {
      fail(`block size ${blockSize} is not a power of two`);
    }
    const blocks = Math.ceil(size / blockSize);
    if (entries < blocks) {
      fail(`BAT has ${entries} entries, the disk needs ${blocks}`);
    }
    const bat = await file.readExact(tableOffset, blocks * 4, 'BAT');
    const bitmapBytes = Math.ceil(blockSize / SECTOR / 8 / SECTOR) * SECTOR;
    const blockData = new Float64Array(blocks);
    for (let b = 0; b < blocks; b++) {
      const sector = bat.readUInt32BE(b * 4);
      if (sector === UNALLOCATED) {
        blockData[b] = -1;
        continue;
      }
      const data = sector * SECTOR + bitmapBytes;
      const needed = Math.min(blockSize, size - b * blockSize);
      if (data + needed > file.size - FOOTER_SIZE) {
        fail(
          `BAT entry for block ${b} points to sector ${sector}, past the end of the file (truncated or corrupt)`,
        );
      }
      blockData[b] = data;
    }
    return new VhdDisk(file, size, blockSize, blockData);
  }

  allocatedRanges(): readonly ByteRange[] {
    if (!this.blockData) {
      return [{ offset: 0, length: this.size }];
    }
    const ranges: ByteRange[] = [];
    this.blockData.forEach((data, b) => {
      if (data >= 0) {
        ranges.push({
          offset: b * this.blockSize,
          length: Math.min(this.blockSize, this.size - b * this.blockSize),
        });
      }
    });
    return mergeRanges(ranges);
  }

  read(offset: number, length: number): Promise<Buffer> {
    return readThroughInto(this, offset, length);
  }

  async readInto(offset: number, target: Uint8Array): Promise<void> {
    assertInside(this.size, offset, target.length);
    if (!this.blockData) {
      await this.file.readExactInto(target, offset, 'data');
      return;
    }
    let done = 0;
    while (done < target.length) {
      const v = offset + done;
      const b = Math.floor(v / this.blockSize);
      const within = v - b * this.blockSize;
      const piece = target.subarray(done, done + Math.min(this.blockSize - within, target.length - done));
      const data = this.blockData[b] ?? -1;
      if (data < 0) {
        piece.fill(0);
      } else {
        await this.file.readExactInto(piece, data + within, `block ${b}`);
      }
      done += piece.length;
    }
  }

  close(): Promise<void> {
    return this.file.close();
  }
}
