/**
 * The per-byte work of a backup: reads a run of chunks from the disk with one large read into a
 * reused buffer, hashes every chunk and, for chunks that differ from the previous recovery point,
 * compresses and seals them. Runs in the backup's worker threads (chunk-worker.ts), or on the
 * calling thread for backups that read too little to pay for starting threads (chunk-pool.ts).
 */
import { releaseNow } from '../common/release.js';
import { openVirtualDisk } from '../disk/open.js';
import { encodeChunk } from '../repository/codec.js';
import { chunkId } from '../repository/crypto.js';
import type { ChunkOutcome, ChunkResult, ChunkTask, WorkerSetup } from './chunk-pool.js';
import { chunksPerTask } from './chunk-pool.js';

/** A task's result and the memory to move (not copy) with it when it crosses to another thread. */
export interface ProcessedTask {
  result: ChunkResult;
  transfer: ArrayBuffer[];
}

export interface ChunkProcessor {
  process(task: ChunkTask): Promise<ProcessedTask>;
  close(): Promise<void>;
}

/** What a chunk became, with its sealed size. */
type Processed =
  Exclude<ChunkOutcome, { kind: 'new' }> | { kind: 'new'; id: string; parts: Buffer[]; size: number };

/**
 * `onWorkerThread`: results cross to the main thread, so each task's new blobs are copied into one
 * buffer, moved with one transfer. On the calling thread (a small backup, no workers) they stay
 * where the cipher wrote them: the copy, into memory touched for the first time, cost ~27 ms per
 * 27 MiB of new chunks (docs/performance.md, "Sealed chunks stay where they are").
 */
export async function openChunkProcessor(
  setup: WorkerSetup,
  { onWorkerThread }: { onWorkerThread: boolean },
): Promise<ChunkProcessor> {
  const keys = { encryption: Buffer.from(setup.encryptionKey), chunkId: Buffer.from(setup.chunkIdKey) };
  const disk = await openVirtualDisk(setup.diskPath);
  const zeros = Buffer.alloc(setup.chunkSize);
  const spare: Buffer[] = [];

  function processChunk(data: Buffer, previous: string | null | undefined): Processed {
    if (data.equals(zeros.subarray(0, data.length))) {
      return { kind: 'zero' };
    }
    const id = chunkId(keys.chunkId, data);
    const hex = id.toString('hex');
    if (hex === previous) {
      return { kind: 'same', id: hex };
    }
    const { parts, size } = encodeChunk(keys, id, data, setup.compressionLevel);
    return { kind: 'new', id: hex, parts, size };
  }

  /** Copies a task's new blobs into one buffer: one allocation and one transfer per task, not per chunk. */
  function pack(processed: Processed[]): ProcessedTask {
    const total = processed.reduce((n, p) => n + (p.kind === 'new' ? p.size : 0), 0);
    if (!onWorkerThread || total === 0) {
      return { result: { chunks: processed }, transfer: [] };
    }
    // Not zero-filled: every byte is written below.
    const blobs = Buffer.allocUnsafeSlow(total);
    let at = 0;
    const chunks = processed.map((p): ChunkOutcome => {
      if (p.kind !== 'new') {
        return p;
      }
      const blob = blobs.subarray(at, at + p.size);
      for (const part of p.parts) {
        blobs.set(part, at);
        at += part.length;
        releaseNow(part);
      }
      return { kind: 'new', id: p.id, parts: [blob] };
    });
    return { result: { chunks }, transfer: [blobs.buffer] };
  }

  return {
    async process(task: ChunkTask): Promise<ProcessedTask> {
      const buffer = spare.pop() ?? Buffer.allocUnsafeSlow(setup.chunkSize * chunksPerTask(setup.chunkSize));
      try {
        await disk.readInto(task.offset, buffer.subarray(0, task.length));
        return pack(
          task.previous.map((previous, k) => {
            const start = k * setup.chunkSize;
            const end = Math.min(start + setup.chunkSize, task.length);
            return processChunk(buffer.subarray(start, end), previous);
          }),
        );
      } finally {
        spare.push(buffer);
      }
    },
    close: () => disk.close(),
  };
}
