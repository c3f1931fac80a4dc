/**
 * Backs up one virtual disk into a repository: plan which chunks to read, hash and seal them in
 * worker threads, store the new ones in packs, and commit a manifest. Returns that manifest.
 */
import { availableParallelism } from 'node:os';
import { basename, extname } from 'node:path';
import { releaseNow } from '../common/release.js';
import { openVirtualDisk } from '../disk/open.js';
import type { ByteRange } from '../disk/ranges.js';
import type { ChunkIndex } from '../repository/chunk-index.js';
import { RepositoryError } from '../repository/errors.js';
import type { ChangeDetection, Manifest } from '../repository/manifest.js';
import type { Repository } from '../repository/repository.js';
import { BackupWriter, type BlobWritten } from '../repository/writer.js';
import {
  chunksPerTask,
  startChunkPool,
  type ChunkOutcome,
  type ChunkPool,
  type ChunkResult,
} from './chunk-pool.js';
import { chunkBytesCovered, planChunks, readRuns } from './plan.js';

export interface BackupOptions {
  /** Name of the disk series; defaults to the file name without extension. */
  name?: string;
  /** Ranges changed since the previous backup of this disk (RCT); unchanged data is not read. */
  changedRanges?: ByteRange[];
  /** Compare against this manifest instead of the newest of the same name. */
  parentId?: string;
  /** Ignore earlier backups: hash everything and report every byte as changed. */
  full?: boolean;
  source?: Record<string, string>;
  /** Worker threads; 0 processes the chunks on the calling thread. Default: see `threadCount`. */
  threads?: number;
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

export function defaultDiskName(path: string): string {
  return basename(path, extname(path));
}

/**
 * The recovery point to compare against: the one named by `parentId`, else the newest of the same
 * disk, as long as the disk has kept its size (a resized disk starts afresh, unless the caller
 * claims changed ranges, which then cannot be trusted). A parent using chunks the index does not
 * list (a damaged index object) is not compared against: the backup reads everything, so it never
 * refers to chunks it cannot find, and the changed ranges, which only make sense against a parent,
 * are ignored.
 */
async function comparableParent(
  repo: Repository,
  name: string,
  virtualSize: number,
  index: ChunkIndex,
  options: BackupOptions,
): Promise<{ parent?: Manifest; changedRanges?: ByteRange[] }> {
  if (options.full) {
    return {};
  }
  const parent = options.parentId
    ? await repo.loadManifest(options.parentId)
    : await repo.latestManifest(name);
  const comparable = parent?.disk.virtualSize === virtualSize ? parent : undefined;
  if (options.changedRanges && !comparable) {
    throw new RepositoryError(
      parent
        ? `--changed-ranges cannot apply: the disk is ${virtualSize} bytes now, ${parent.disk.virtualSize} in recovery point ${parent.id}`
        : `--changed-ranges needs an earlier backup of disk '${name}' to apply the changes to`,
    );
  }
  if (comparable?.chunks.some((id) => id !== null && !index.has(id))) {
    return {};
  }
  return { parent: comparable, changedRanges: options.changedRanges };
}

/**
 * A changed-range backup touching at most this many chunk bytes runs on the calling thread:
 * starting worker threads (0.1-0.2 s, each loading its modules and opening the disk) costs more
 * than sharing this much hashing and sealing saves (docs/performance.md).
 */
export const INLINE_BYTES = 64 * 1024 * 1024;

function threadCount(options: BackupOptions, chunkSize: number): number {
  if (options.threads !== undefined) {
    return Math.max(0, Math.min(options.threads, 8));
  }
  if (options.changedRanges && chunkBytesCovered(options.changedRanges, chunkSize) <= INLINE_BYTES) {
    return 0;
  }
  return Math.max(1, Math.min(availableParallelism(), 8));
}

/**
 * The writer holds a task's new blobs until their packs are written (from a worker they share one
 * buffer): the returned callback, called once per new blob, frees them all after the last.
 */
function releaseWhenWritten(result: ChunkResult): BlobWritten {
  const parts = result.chunks.flatMap((c) => (c.kind === 'new' ? [c.parts] : []));
  let left = parts.length;
  return () => {
    left--;
    if (left === 0) {
      parts.flat().forEach(releaseNow);
    }
  };
}

/** What a backup reads before any chunk: the disk's geometry, the index and the parent. */
async function prepare(repo: Repository, diskPath: string, name: string, options: BackupOptions) {
  const disk = await openVirtualDisk(diskPath);
  const virtualSize = disk.size;
  const allocated = disk.allocatedRanges();
  const description = {
    name,
    virtualSize,
    logicalSectorSize: disk.logicalSectorSize,
    physicalSectorSize: disk.physicalSectorSize,
    sourceFormat: disk.format,
    sourcePath: diskPath,
  };
  await disk.close();

  const index = await repo.loadIndex({ forWriting: true });
  const { parent, changedRanges } = await comparableParent(repo, name, virtualSize, index, options);
  const chunkSize = parent?.chunkSize ?? repo.config.chunkSize;
  const plans = planChunks({
    virtualSize,
    chunkSize,
    allocated,
    previous: parent?.chunks,
    changed: changedRanges,
  });
  const changeDetection: ChangeDetection = changedRanges ? 'changed-ranges' : parent ? 'checksum' : 'full';
  return { description, index, parent, chunkSize, plans, changeDetection };
}

export async function backupDisk(
  repo: Repository,
  diskPath: string,
  options: BackupOptions = {},
): Promise<Manifest> {
  const started = performance.now();
  const name = options.name ?? defaultDiskName(diskPath);
  const threads = threadCount(options, repo.config.chunkSize);
  const level = repo.config.compressionLevel;
  // Worker start-up (each thread loads its modules and opens the disk: 0.1-0.2 s) overlaps with
  // reading the disk's metadata, the index and the parent manifest. It assumes the repository's
  // chunk size, and starts again in the rare case that the parent used another.
  const early = startChunkPool(diskPath, repo.keys, repo.config.chunkSize, level, threads);
  early.catch(() => undefined);
  let pool: ChunkPool | undefined;
  try {
    const { description, index, parent, chunkSize, plans, changeDetection } = await prepare(
      repo,
      diskPath,
      name,
      options,
    );
    pool = await early;
    if (chunkSize !== repo.config.chunkSize) {
      await pool.close();
      pool = await startChunkPool(diskPath, repo.keys, chunkSize, level, threads);
    }
    const previous = parent?.chunks;
    const virtualSize = description.virtualSize;
    const writer = new BackupWriter(repo, index);
    const chunks: (string | null)[] = new Array<string | null>(plans.length).fill(null);
    const stats = { bytesRead: 0, bytesChanged: 0, bytesUploaded: 0, newChunks: 0, seconds: 0 };
    let done = 0;
    const progress = (bytes: number): void => {
      done += bytes;
      options.onProgress?.(done, virtualSize);
    };

    // Results are stored one at a time, in arrival order, so pack writes never interleave.
    let storing: Promise<void> = Promise.resolve();
    const inFlight = new Set<Promise<void>>();
    const handle = (i: number, outcome: ChunkOutcome, written: BlobWritten): Promise<void> => {
      const length = Math.min(chunkSize, virtualSize - i * chunkSize);
      const before = previous?.[i];
      stats.bytesRead += length;
      if (outcome.kind === 'zero') {
        stats.bytesChanged += before ? length : 0;
        progress(length);
        return Promise.resolve();
      }
      chunks[i] = outcome.id;
      if (outcome.kind === 'same') {
        progress(length);
        return Promise.resolve();
      }
      stats.bytesChanged += length;
      const { id, parts } = outcome;
      storing = storing.then(async () => {
        if (!writer.has(id)) {
          stats.newChunks++;
        }
        await writer.add(id, parts, written);
        progress(length);
      });
      return storing;
    };
    for (const [i, plan] of plans.entries()) {
      const length = Math.min(chunkSize, virtualSize - i * chunkSize);
      if (plan.kind === 'zero') {
        stats.bytesChanged += previous?.[i] ? length : 0;
        progress(length);
      } else if (plan.kind === 'reuse') {
        chunks[i] = plan.id;
        progress(length);
      }
    }
    for (const run of readRuns(plans, chunkSize, virtualSize, chunksPerTask(chunkSize))) {
      const before = plans
        .slice(run.first, run.first + run.count)
        .map((p) => (p.kind === 'read' ? p.previous : undefined));
      const { result } = await pool.submit({ offset: run.offset, length: run.length, previous: before });
      const handled = result.then(async (r: ChunkResult) => {
        const written = releaseWhenWritten(r);
        await Promise.all(r.chunks.map((outcome, k) => handle(run.first + k, outcome, written)));
      });
      inFlight.add(handled);
      void handled.finally(() => inFlight.delete(handled)).catch(() => undefined);
      if (inFlight.size >= Math.max(threads, 1) * 4) {
        await Promise.race(inFlight);
      }
    }
    await Promise.all(inFlight);
    await storing;
    // The workers are done: free them before the commit's writes.
    await pool.close();
    return await writer.commit({
      version: 1,
      disk: description,
      chunkSize,
      parent: parent?.id ?? null,
      changeDetection,
      stats: { ...stats, seconds: (performance.now() - started) / 1000 },
      source: options.source ?? {},
      chunks,
    });
  } finally {
    await (pool ?? (await early.catch(() => undefined)))?.close();
  }
}
