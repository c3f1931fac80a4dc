/**
 * Copies recovery points (their disk manifests) from one repository to an offsite twin that
 * shares its master key. Only chunks the target lacks cross the link, as sealed blobs moved byte
 * for byte into new packs: nothing is decrypted. The order keeps the target valid at every
 * moment and makes a killed copy resumable: packs, then the index naming them (every
 * `batchBytes`, so a restart skips what was already sent), then catalogs, then the manifest.
 * A manifest in the target therefore means a complete, verified copy.
 */
import type { ChunkIndex, ChunkLocation } from '../repository/chunk-index.js';
import { RepositoryError } from '../repository/errors.js';
import { CATALOGS_PREFIX, PACKS_PREFIX, manifestKey, packIdOfKey, packKey } from '../repository/layout.js';
import type { Repository } from '../repository/repository.js';
import { BackupWriter } from '../repository/writer.js';
import type { PutOptions } from '../storage/storage.js';
import { Throttle } from './throttle.js';

export class CopyError extends RepositoryError {}

export interface CopyProgress {
  chunksDone: number;
  chunksToCopy: number;
  bytesSent: number;
}

export interface CopyOptions {
  /** Lock every object written until then (the policy's immutableFor). */
  retainUntil?: Date;
  /** Bandwidth limit for data sent to the target, bytes per second. */
  bytesPerSecond?: number;
  /** Source reads in flight at once. */
  parallelReads?: number;
  /**
   * The packs written so far are indexed after this many blob bytes or this long, whichever comes
   * first: what a copy killed midway does not send again.
   */
  batchBytes?: number;
  checkpointMs?: number;
  onProgress?: (progress: CopyProgress) => void;
}

export interface CopyReport {
  manifests: string[];
  /** Chunks the manifests use that the target already held (deduplicated away). */
  chunksPresent: number;
  chunksCopied: number;
  /** Bytes written to the target: packs, index, catalogs and manifests. */
  bytesSent: number;
}

/** Adjacent blobs of one source pack read in one request, up to this many bytes. */
const MAX_READ = 8 * 1024 * 1024;

interface Read {
  pack: string;
  offset: number;
  length: number;
  chunks: { id: string; location: ChunkLocation }[];
}

/** Groups chunk locations into few, ordered range reads of their packs. Pure. */
export function planReads(chunks: readonly { id: string; location: ChunkLocation }[]): Read[] {
  const sorted = [...chunks].sort(
    (a, b) => a.location.pack.localeCompare(b.location.pack) || a.location.offset - b.location.offset,
  );
  const reads: Read[] = [];
  for (const chunk of sorted) {
    const { pack, offset, length } = chunk.location;
    const last = reads.at(-1);
    if (last?.pack === pack && last.offset + last.length === offset && last.length + length <= MAX_READ) {
      last.length += length;
      last.chunks.push(chunk);
    } else {
      reads.push({ pack, offset, length, chunks: [chunk] });
    }
  }
  return reads;
}

/**
 * Copies the manifests named (with their catalogs and every chunk they use) into `target`.
 * Idempotent: manifests already in the target are verified and skipped.
 */
export async function copyManifests(
  source: Repository,
  target: Repository,
  manifestIds: readonly string[],
  options: CopyOptions = {},
): Promise<CopyReport> {
  if (!target.sharesKeysWith(source)) {
    throw new CopyError(
      `${target.storage.url} holds a repository made with another key than ${source.storage.url}; ` +
        'an offsite repository must be empty when first used, or a copy of this same primary repository',
    );
  }
  const manifests = await Promise.all(manifestIds.map((id) => source.loadManifest(id)));
  const needed = new Set(manifests.flatMap((m) => m.chunks.filter((c): c is string => c !== null)));
  const put: PutOptions = options.retainUntil ? { retainUntil: options.retainUntil } : {};
  const throttle = options.bytesPerSecond ? new Throttle(options.bytesPerSecond) : undefined;

  // Chunks in packs the target's garbage collection condemned are sent again rather than trusted.
  const targetIndex = await target.loadIndex({ forWriting: true });
  const sourceIndex = await source.loadIndex();
  const missing: { id: string; location: ChunkLocation }[] = [];
  for (const id of needed) {
    if (targetIndex.has(id)) {
      continue;
    }
    const location = sourceIndex.get(id);
    if (!location) {
      throw new CopyError(
        `${source.storage.url}: chunk ${id} is missing from the source repository; run 'repo check' on it`,
      );
    }
    missing.push({ id, location });
  }

  const progress: CopyProgress = { chunksDone: 0, chunksToCopy: missing.length, bytesSent: 0 };
  progress.bytesSent = await sendChunks(source, target, targetIndex, missing, put, {
    parallelReads: options.parallelReads ?? 4,
    batchBytes: options.batchBytes ?? 1024 * 1024 * 1024,
    checkpointMs: options.checkpointMs ?? 60_000,
    throttle,
    onBlob: (bytesSent) => {
      progress.chunksDone++;
      progress.bytesSent = bytesSent;
      options.onProgress?.(progress);
    },
  });

  await verifyChunks(target, needed);
  for (const m of manifests) {
    progress.bytesSent += await copyManifestObjects(source, target, m.id, put);
  }
  options.onProgress?.(progress);
  return {
    manifests: manifests.map((m) => m.id),
    chunksPresent: needed.size - missing.length,
    chunksCopied: missing.length,
    bytesSent: progress.bytesSent,
  };
}

async function sendChunks(
  source: Repository,
  target: Repository,
  targetIndex: ChunkIndex,
  missing: readonly { id: string; location: ChunkLocation }[],
  put: PutOptions,
  opts: {
    parallelReads: number;
    batchBytes: number;
    checkpointMs: number;
    throttle: Throttle | undefined;
    onBlob: (bytesSent: number) => void;
  },
): Promise<number> {
  const writer = new BackupWriter(target, targetIndex, put);
  const queue = planReads(missing);
  const inFlight: { read: Read; bytes: Promise<Buffer> }[] = [];
  const readAhead = (): void => {
    let read: Read | undefined;
    while (inFlight.length < opts.parallelReads && (read = queue.shift())) {
      const bytes = source.storage.getRange(packKey(read.pack), read.offset, read.length);
      // Awaited in order below; this only keeps a failed read-ahead from being reported unhandled.
      bytes.catch(() => undefined);
      inFlight.push({ read, bytes });
    }
  };
  let batch = 0;
  let checkpointAt = performance.now() + opts.checkpointMs;
  readAhead();
  for (let current = inFlight.shift(); current; readAhead(), current = inFlight.shift()) {
    const { read } = current;
    const bytes = await current.bytes;
    for (const { id, location } of read.chunks) {
      const at = location.offset - read.offset;
      await opts.throttle?.take(location.length);
      await writer.add(id, [bytes.subarray(at, at + location.length)]);
      opts.onBlob(writer.bytesUploaded);
      batch += location.length;
    }
    if (batch >= opts.batchBytes || performance.now() >= checkpointAt) {
      await writer.finishPacks();
      batch = 0;
      checkpointAt = performance.now() + opts.checkpointMs;
    }
  }
  await writer.finishPacks();
  return writer.bytesUploaded;
}

/** Every chunk is in the target's index and inside a pack object that exists there. */
async function verifyChunks(target: Repository, needed: ReadonlySet<string>): Promise<void> {
  const index = await target.loadIndex();
  const packs = new Map((await target.storage.list(PACKS_PREFIX)).map((o) => [packIdOfKey(o.key), o.size]));
  for (const id of needed) {
    const location = index.get(id);
    const size = location && packs.get(location.pack);
    if (!location || size === undefined || location.offset + location.length > size) {
      throw new CopyError(`${target.storage.url}: chunk ${id} did not arrive; the copy will be retried`);
    }
  }
}

/** Copies a manifest's sealed catalogs, then the sealed manifest itself; returns the bytes sent. */
async function copyManifestObjects(
  source: Repository,
  target: Repository,
  manifestId: string,
  put: PutOptions,
): Promise<number> {
  const key = manifestKey(manifestId);
  if (await target.storage.stat(key)) {
    return 0;
  }
  let bytes = 0;
  for (const object of await source.storage.list(`${CATALOGS_PREFIX}${manifestId}/`)) {
    const data = await source.storage.get(object.key);
    await target.storage.put(object.key, data, put);
    bytes += data.length;
  }
  const data = await source.storage.get(key);
  // Opening it with the target's keys proves the sealed bytes arrived intact and fit the twin.
  await target.storage.put(key, data, put);
  await target.loadManifest(manifestId);
  return bytes + data.length;
}
