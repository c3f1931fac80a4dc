import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { link, mkdir, mkdtemp, open, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { ByteSource } from '../../controller/common/byte-source.js';

const run = promisify(execFile);
const SCRIPT = join(import.meta.dirname, '..', '..', '..', 'hack', 'make-ntfs-image.sh');

/** Deterministic pseudo-random bytes, so a failure reproduces with the same data. */
export function patternBytes(seed: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let offset = 0, i = 0; offset < length; i++) {
    offset += createHash('sha256').update(`${seed}:${i}`).digest().copy(out, offset);
  }
  return out;
}

export const LONG_NAME = `${'long name with spaces and more '.repeat(7)}end.txt`.slice(0, 240);
export const MANY_FILES = 3000;
export const HARD_LINKS = 4;
export const ADS = {
  path: '/with-stream.txt',
  name: 'Zone.Identifier',
  data: Buffer.from('[ZoneTransfer]\r\nZoneId=3\r\n'),
};

/**
 * The source tree every ILR test checks against: deep directories, a directory of thousands of files
 * (multi-block $I30), Unicode and 240-character names, a large file, a sparse and an empty file, hard
 * links with long names (their $FILE_NAMEs overflow one record, forcing an $ATTRIBUTE_LIST), symbolic
 * links to a file and a directory, and two files the image builder interleaves into many runs.
 */
async function writeSourceTree(root: string): Promise<void> {
  const put = async (path: string, data: Buffer | string) => {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), data);
  };
  const deep = Array.from({ length: 24 }, (_, i) => `level-${i}`).join('/');
  await put(`${deep}/bottom.txt`, 'the bottom of a deep tree\n');
  await Promise.all(
    Array.from({ length: MANY_FILES }, (_, i) =>
      put(`many/file-${String(i).padStart(5, '0')}.txt`, `small file ${i}\n`),
    ),
  );
  await put('unicode/Ünïcødé 名前.txt', 'unicode\n');
  await put('unicode/🚀 launch – ελληνικά.md', 'emoji and greek\n');
  await put(`unicode/${LONG_NAME}`, 'a long name\n');
  await put('big.bin', patternBytes('big', 6 * 1024 * 1024 + 123));
  await put('empty.txt', '');
  // Starts with two dots but is an ordinary name: restore must not take it for a parent reference.
  await put('..dots-first.txt', 'a name that starts with two dots\n');
  await put('frag-a.bin', patternBytes('frag-a', 1536 * 1024 + 7));
  await put('frag-b.bin', patternBytes('frag-b', 1024 * 1024));
  await put('with-stream.txt', 'main stream\n');
  await put('links/original.dat', patternBytes('links', 10000));
  for (let i = 0; i < HARD_LINKS; i++) {
    await link(join(root, 'links/original.dat'), join(root, `links/${'hard link '.repeat(24)}${i}.dat`));
  }
  // wimapply stores these as NTFS symbolic-link reparse points.
  await mkdir(join(root, 'symlinks'));
  await symlink('../links/original.dat', join(root, 'symlinks/to-file'));
  await symlink('../unicode', join(root, 'symlinks/to-directory'));
  const sparse = await open(join(root, 'sparse.bin'), 'w');
  await sparse.write(Buffer.from('data after a hole'), 0, 17, 5 * 1024 * 1024);
  await sparse.close();
  await truncate(join(root, 'sparse.bin'), 8 * 1024 * 1024);
}

async function writeCompressibleTree(root: string): Promise<void> {
  await mkdir(root, { recursive: true });
  await writeFile(join(root, 'text.txt'), 'compress me, I repeat myself. '.repeat(20000));
  await writeFile(join(root, 'random.bin'), patternBytes('incompressible', 100000));
  await writeFile(
    join(root, 'mixed.bin'),
    Buffer.concat([patternBytes('mixed', 70000), Buffer.alloc(200000), Buffer.from('tail')]),
  );
}

export interface NtfsFixture {
  dir: string;
  source: string;
  /** Tree copied into /compressed with NTFS compression; null when no FUSE mount was possible. */
  compressedSource: string | null;
  gpt: string;
  mbr: string;
  bare: string;
}

/** Builds the source tree and three images of it (GPT, MBR logical partition, bare volume) under os.tmpdir(). */
export async function buildNtfsFixture(): Promise<NtfsFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'shadowkeep-ntfs-'));
  const source = join(dir, 'source');
  await writeSourceTree(source);
  const compressed = join(dir, 'compressible');
  await writeCompressibleTree(compressed);
  const common = [
    '--fragment',
    '/frag-a.bin,/frag-b.bin',
    '--ads',
    `${ADS.path}:${ADS.name}=${join(dir, 'ads')}`,
  ];
  await writeFile(join(dir, 'ads'), ADS.data);
  const image = (name: string, args: string[]) =>
    run(SCRIPT, [...common, ...args, source, join(dir, name)]).then(() => join(dir, name));
  // FUSE may be missing on CI machines: then the GPT image is built without the compressed tree.
  const gpt = await image('gpt.img', ['--table', 'gpt', '--compressed', compressed]).catch(() => null);
  const [mbr, bare] = await Promise.all([
    image('mbr.img', ['--table', 'mbr']),
    image('bare.img', ['--table', 'none']),
  ]);
  return {
    dir,
    source,
    compressedSource: gpt ? compressed : null,
    gpt: gpt ?? (await image('gpt.img', ['--table', 'gpt'])),
    mbr,
    bare,
  };
}

let shared: Promise<NtfsFixture> | undefined;

/** One fixture per test run, shared by every suite that needs it and removed when the process exits. */
export function sharedNtfsFixture(): Promise<NtfsFixture> {
  shared ??= buildNtfsFixture().then((fixture) => {
    process.once('exit', () => {
      rmSync(fixture.dir, { recursive: true, force: true });
    });
    return fixture;
  });
  return shared;
}

/** A ByteSource over a Buffer, for tables and volumes built or damaged in memory. */
export function bufferSource(buf: Buffer): ByteSource {
  return {
    size: buf.length,
    read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > buf.length) {
        return Promise.reject(new RangeError(`read ${offset}+${length} outside ${buf.length} bytes`));
      }
      return Promise.resolve(Buffer.from(buf.subarray(offset, offset + length)));
    },
  };
}

/** Another source with some bytes overwritten: damages an image without copying it. */
export function patchedSource(base: ByteSource, patches: { offset: number; bytes: Buffer }[]): ByteSource {
  return {
    size: base.size,
    async read(offset, length) {
      const data = await base.read(offset, length);
      for (const p of patches) {
        const from = Math.max(offset, p.offset);
        const to = Math.min(offset + length, p.offset + p.bytes.length);
        if (from < to) {
          p.bytes.copy(data, from - offset, from - p.offset, to - p.offset);
        }
      }
      return data;
    },
  };
}

/** Runs a command and returns its stdout (for ntfsls and friends). */
export async function output(command: string, args: string[]): Promise<string> {
  return (await run(command, args, { maxBuffer: 64 * 1024 * 1024 })).stdout;
}

/** Drains an async iterable (directory walks); `Array.fromAsync` is not in the ES2024 library. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const result: T[] = [];
  for await (const item of items) {
    result.push(item);
  }
  return result;
}
