/**
 * Rebuilds a disk from a manifest as a raw image or a dynamic VHDX. Worker threads fetch spans
 * of packs, verify every chunk against its id and write it in place; zero chunks are never
 * written (sparse output). Output goes to `<out>.partial`, is synced (in steps while it is written), and is renamed into place
 * only when complete, so a failed restore never leaves a plausible-looking disk behind.
 */
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { createDynamicVhdx } from '../disk/vhdx-writer.js';
import type { Manifest } from '../repository/manifest.js';
import type { Repository } from '../repository/repository.js';
import { planSpans, type Span } from './chunk-reads.js';
import type { StorageLocation } from '../storage/location.js';
import { StorageError } from '../storage/storage.js';
import { WorkerPool } from './worker-pool.js';

export type RestoreFormat = 'raw' | 'vhdx';

export interface RestoreOptions {
  format?: RestoreFormat;
  threads?: number;
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

export interface RestoreResult {
  manifest: Manifest;
  bytesWritten: number;
  bytesFetched: number;
  seconds: number;
}

/** What each restore worker (restore-worker.ts) is given: where to read and where to write. */
export interface RestoreSetup {
  /** The repository's storage, credentials included: workers open it themselves. */
  storage: StorageLocation;
  encryptionKey: Uint8Array;
  chunkIdKey: Uint8Array;
  out: string;
  chunkSize: number;
  /** For VHDX output: where each block's data lives in the file. */
  vhdx?: { blockSize: number; blockOffsets: number[] };
}

export interface RestoreResultPart {
  bytesWritten: number;
  bytesFetched: number;
}

const VHDX_BLOCK_SIZE = 32 * 1024 * 1024;
/** Spans each worker holds at once: one being fetched while another is decoded and written. */
const PER_WORKER = 2;

/** Creates the sparse output file and returns how workers map virtual offsets into it. */
async function createOutput(
  path: string,
  manifest: Manifest,
  format: RestoreFormat,
): Promise<RestoreSetup['vhdx']> {
  const { disk, chunkSize, chunks } = manifest;
  if (format === 'raw') {
    const handle = await open(path, 'w');
    try {
      await handle.truncate(disk.virtualSize);
    } finally {
      await handle.close();
    }
    return undefined;
  }
  const blockSize = Math.max(VHDX_BLOCK_SIZE, chunkSize);
  const perBlock = blockSize / chunkSize;
  const sector = (n: number): 512 | 4096 => (n === 4096 ? 4096 : 512);
  const blockOffsets = await createDynamicVhdx(
    path,
    {
      virtualSize: disk.virtualSize,
      blockSize,
      logicalSectorSize: sector(disk.logicalSectorSize),
      physicalSectorSize: sector(disk.physicalSectorSize),
    },
    (block) => chunks.slice(block * perBlock, (block + 1) * perBlock).some((id) => id !== null),
  );
  return { blockSize, blockOffsets };
}

function workerLocation(repo: Repository): StorageLocation {
  const { location } = repo.storage;
  if (!location) {
    throw new StorageError(`${repo.storage.url}: this storage cannot be reopened by restore worker threads`);
  }
  return location;
}

/** Bytes written between two background flushes of the output. */
const FLUSH_EVERY = 64 * 1024 * 1024;

/**
 * Pushes the output to disk while the restore goes on, one flush at a time, so the final sync
 * before the rename waits only for the last stretch. Left alone, the kernel starts writeback
 * only when dirty pages reach a share of RAM (gigabytes), and the whole disk then waits for the
 * final sync: on the benchmark machine that was most of a restore's time.
 */
class Writeback {
  private unflushed = 0;
  private running: Promise<void> = Promise.resolve();
  private idle = true;

  private constructor(private readonly handle: FileHandle) {}

  static async open(path: string): Promise<Writeback> {
    return new Writeback(await open(path, 'r+'));
  }

  wrote(bytes: number): void {
    this.unflushed += bytes;
    if (this.idle && this.unflushed >= FLUSH_EVERY) {
      this.unflushed = 0;
      this.idle = false;
      // A failure here shows again in the final sync, which is what decides.
      this.running = this.handle
        .datasync()
        .catch(() => undefined)
        .finally(() => {
          this.idle = true;
        });
    }
  }

  /** Waits for a flush in progress, then makes everything durable (data and size). */
  async finish(): Promise<void> {
    await this.running;
    await this.handle.sync();
  }

  async close(): Promise<void> {
    await this.running;
    await this.handle.close();
  }
}

export async function restoreDisk(
  repo: Repository,
  manifestId: string,
  out: string,
  options: RestoreOptions = {},
): Promise<RestoreResult> {
  const started = performance.now();
  const manifest = await repo.loadManifest(manifestId);
  const spans = planSpans(manifest.chunks, await repo.loadIndex(), manifest.id);
  const { virtualSize } = manifest.disk;
  const partial = `${out}.partial`;
  let bytesWritten = 0;
  let bytesFetched = 0;
  let done = manifest.chunks.filter((id) => id === null).length * manifest.chunkSize;
  try {
    const setup: RestoreSetup = {
      storage: workerLocation(repo),
      encryptionKey: repo.keys.encryption,
      chunkIdKey: repo.keys.chunkId,
      out: partial,
      chunkSize: manifest.chunkSize,
      vhdx: await createOutput(partial, manifest, options.format ?? 'raw'),
    };
    const writeback = await Writeback.open(partial);
    try {
      const threads = Math.max(1, Math.min(options.threads ?? availableParallelism(), 8));
      const pool = await WorkerPool.start<Span, RestoreResultPart>(
        new URL('./restore-worker.js', import.meta.url),
        setup,
        threads,
        PER_WORKER,
      );
      try {
        const pending: Promise<void>[] = [];
        for (const span of spans) {
          const { result } = await pool.submit(span);
          const positions = span.chunks.reduce((n, c) => n + c.positions.length, 0);
          pending.push(
            result.then((part) => {
              bytesWritten += part.bytesWritten;
              bytesFetched += part.bytesFetched;
              writeback.wrote(part.bytesWritten);
              done += positions * manifest.chunkSize;
              options.onProgress?.(Math.min(done, virtualSize), virtualSize);
            }),
          );
          // Surface a failure at the end, not as an unhandled rejection meanwhile.
          pending.at(-1)?.catch(() => undefined);
        }
        await Promise.all(pending);
      } finally {
        await pool.close();
      }
      await writeback.finish();
    } finally {
      await writeback.close();
    }
    await rename(partial, out);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
  return { manifest, bytesWritten, bytesFetched, seconds: (performance.now() - started) / 1000 };
}
