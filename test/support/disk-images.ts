/**
 * Real disk images for tests, made by qemu-img/qemu-io in temporary folders: the readers are
 * checked against the tool that wrote the file, never against our own idea of the format.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { crc32cWithZeroedField } from '../../controller/disk/crc32c.js';
import { HEADER_OFFSETS, decodeHeader, encodeGuid, encodeHeader } from '../../controller/disk/vhdx-format.js';
import { layoutVhdx, type LayoutBlockState, type VhdxGeometry } from '../../controller/disk/vhdx-layout.js';

const run = promisify(execFile);

export const MiB = 1024 * 1024;

export async function qemuImg(...args: string[]): Promise<string> {
  return (await run('qemu-img', args)).stdout;
}

/** Runs qemu-io commands (e.g. `write -P 0xab 0 64k`) on an image, writing in place as a hypervisor would. */
export async function qemuIo(
  image: string,
  format: 'vhdx' | 'vpc' | 'raw',
  ...commands: string[]
): Promise<void> {
  await run('qemu-io', ['-f', format, ...commands.flatMap((c) => ['-c', c]), image]);
}

export interface TempDir {
  path: string;
  file(name: string): string;
  remove(): Promise<void>;
}

export async function tempDir(prefix = 'shadowkeep-test-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, file: (name) => join(path, name), remove: () => rm(path, { recursive: true, force: true }) };
}

/** A sparse raw image of `size` bytes with random data written at each of `regions`. */
export async function makeRawImage(
  path: string,
  size: number,
  regions: readonly { offset: number; length: number }[],
): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.truncate(size);
    for (const r of regions) {
      await handle.write(randomBytes(r.length), 0, r.length, r.offset);
    }
  } finally {
    await handle.close();
  }
}

/** Converts a raw image with qemu-img, as a user would make a VHDX or VHD from a disk. */
export async function convertImage(
  raw: string,
  out: string,
  format: 'vhdx' | 'vpc',
  options: string[] = [],
): Promise<string> {
  await qemuImg(
    'convert',
    '-f',
    'raw',
    '-O',
    format,
    ...(options.length > 0 ? ['-o', options.join(',')] : []),
    raw,
    out,
  );
  return out;
}

/** The guest's view of an image according to qemu: what every reader must reproduce byte for byte. */
export async function qemuRawView(
  image: string,
  format: 'vhdx' | 'vpc' | 'raw',
  scratch: TempDir,
): Promise<Buffer> {
  const out = scratch.file(`view-${randomBytes(4).toString('hex')}.raw`);
  await qemuImg('convert', '-f', format, '-O', 'raw', image, out);
  const data = await readFile(out);
  await rm(out);
  return data;
}

export interface FixtureBlock {
  state: LayoutBlockState;
  /** Data of a full or partial block (blockSize bytes). */
  data?: Buffer;
  /** Partial blocks: one bit per sector, 1 = this file, 0 = parent. */
  bitmap?: Buffer;
}

/**
 * Writes a VHDX qemu cannot make (4 KiB sectors, differencing, partially present blocks) from
 * the specification's layout, block by block. Returns the file's DataWriteGuid for child links.
 */
export async function writeVhdxFixture(
  path: string,
  geometry: VhdxGeometry,
  blocks: readonly FixtureBlock[],
  options: { parentLocator?: ReadonlyMap<string, string>; logGuid?: string; logEntry?: Buffer } = {},
): Promise<string> {
  const layout = layoutVhdx({
    ...geometry,
    blocks: blocks.map((b) => b.state),
    parentLocator: options.parentLocator,
  });
  if (options.logGuid) {
    for (const offset of HEADER_OFFSETS) {
      const header = decodeHeader(layout.prefix.subarray(offset, offset + 4096));
      if (typeof header === 'string') {
        throw new Error(header);
      }
      encodeHeader({ ...header, logGuid: options.logGuid }).copy(layout.prefix, offset);
    }
    options.logEntry?.copy(layout.prefix, header0LogOffset(layout.prefix));
  }
  const handle = await open(path, 'w');
  try {
    await handle.truncate(layout.fileSize);
    await handle.write(layout.prefix, 0, layout.prefix.length, 0);
    const ratio = (2 ** 23 * geometry.logicalSectorSize) / geometry.blockSize;
    const bitmapBytes = geometry.blockSize / geometry.logicalSectorSize / 8;
    for (const [b, block] of blocks.entries()) {
      const offset = layout.blockOffsets[b] ?? -1;
      if (offset >= 0 && block.data) {
        await handle.write(block.data, 0, block.data.length, offset);
      }
      if (block.state === 'partial' && block.bitmap) {
        const base = layout.bitmapOffsets[Math.floor(b / ratio)] ?? -1;
        await handle.write(block.bitmap, 0, block.bitmap.length, base + (b % ratio) * bitmapBytes);
      }
    }
  } finally {
    await handle.close();
  }
  return layout.dataWriteGuid;
}

function header0LogOffset(prefix: Buffer): number {
  const header = decodeHeader(prefix.subarray(HEADER_OFFSETS[0], HEADER_OFFSETS[0] + 4096));
  if (typeof header === 'string') {
    throw new Error(header);
  }
  return header.logOffset;
}

/** A valid, non-empty log entry (no descriptors) for `logGuid`: a log that would need replaying. */
export function makeLogEntry(logGuid: string): Buffer {
  const entry = Buffer.alloc(4096);
  entry.write('loge', 0, 'latin1');
  entry.writeUInt32LE(4096, 8);
  entry.writeBigUInt64LE(1n, 16);
  encodeGuid(logGuid, entry, 32);
  entry.writeBigUInt64LE(BigInt(4 * MiB), 48);
  entry.writeBigUInt64LE(BigInt(4 * MiB), 56);
  entry.writeUInt32LE(crc32cWithZeroedField(entry, 4), 4);
  return entry;
}
