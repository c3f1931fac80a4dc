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

const run = promisify(execFile);

export const MiB = 1024 * 1024;

export async function qemuImg(...args: string[]): Promise<string> {
  return (await run('qemu-img', args)).stdout;
}

/** Runs qemu-io commands (e.g. `write -P 0xab 0 64k`) on an image, writing in place as a hypervisor would. */
export async function qemuIo(image: string, format: 'vhdx' | 'vpc' | 'raw', ...commands: string[]): Promise<void> {
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
export async function makeRawImage(path: string, size: number, regions: readonly { offset: number; length: number }[]): Promise<void> {
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
export async function convertImage(raw: string, out: string, format: 'vhdx' | 'vpc', options: string[] = []): Promise<string> {
  await qemuImg('convert', '-f', 'raw', '-O', format, ...(options.length > 0 ? ['-o', options.join(',')] : []), raw, out);
  return out;
}

/** The guest's view of an image according to qemu: what every reader must reproduce byte for byte. */
export async function qemuRawView(image: string, format: 'vhdx' | 'vpc' | 'raw', scratch: TempDir): Promise<Buffer> {
  const out = scratch.file(`view-${randomBytes(4).toString('hex')}.raw`);
  await qemuImg('convert', '-f', format, '-O', 'raw', image, out);
  const data = await readFile(out);
  await rm(out);
  return data;
}
