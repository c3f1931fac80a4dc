/**
 * Where a backup's chunks are processed: a pool of worker threads (chunk-worker.ts), or the
 * calling thread for backups that read little (a changed-range list): starting two threads
 * costs more than the work they would share. Tasks, results and setup.
 */
import type { RepositoryKeys } from '../repository/crypto.js';
import { openChunkProcessor, type ChunkProcessor } from './chunk-processor.js';
import { WorkerPool } from './worker-pool.js';

export interface WorkerSetup {
  diskPath: string;
  encryptionKey: Uint8Array;
  chunkIdKey: Uint8Array;
  chunkSize: number;
  compressionLevel: number;
}

/** A run of consecutive chunks, read with one large read (sequential I/O) and processed one by one. */
export interface ChunkTask {
  offset: number;
  length: number;
  /** Per chunk of the run: its id in the previous recovery point, if any. */
  previous: (string | null | undefined)[];
}

export type ChunkOutcome =
  { kind: 'zero' } | { kind: 'same'; id: string } | { kind: 'new'; id: string; parts: Uint8Array[] };

/**
 * A new chunk's sealed blob is in parts, written to its pack as they are. From a worker thread,
 * the parts of all of a result's chunks are views of one buffer moved (not copied) across.
 */
export interface ChunkResult {
  chunks: ChunkOutcome[];
}

/** Bytes per task: 4 MiB reads, where sequential reads from the image reach full speed. */
export const TASK_BYTES = 4 * 1024 * 1024;

export function chunksPerTask(chunkSize: number): number {
  return Math.max(1, Math.floor(TASK_BYTES / chunkSize));
}

/** Tasks each worker holds at once: one being read while another is hashed and sealed. */
const PER_WORKER = 2;

/** Processes a backup's chunk tasks, on worker threads or on this one. */
export interface ChunkPool {
  /** Waits for room and hands the task over; `result` settles when it is done. */
  submit(task: ChunkTask): Promise<{ result: Promise<ChunkResult> }>;
  close(): Promise<void>;
}

/**
 * The processor on the calling thread, with a few tasks in flight so disk reads overlap (the
 * reads run in libuv's thread pool; hashing and sealing run here between them).
 */
class InlinePool implements ChunkPool {
  private running = 0;
  private readonly freed: (() => void)[] = [];

  constructor(
    private readonly processor: ChunkProcessor,
    private readonly limit: number,
  ) {}

  async submit(task: ChunkTask): Promise<{ result: Promise<ChunkResult> }> {
    while (this.running >= this.limit) {
      await new Promise<void>((resolve) => this.freed.push(resolve));
    }
    this.running++;
    const result = this.processor
      .process(task)
      .then((done) => done.result)
      .finally(() => {
        this.running--;
        this.freed.shift()?.();
      });
    return { result };
  }

  close(): Promise<void> {
    return this.processor.close();
  }
}

/** Starts `threads` workers; with 0 threads the chunks are processed on this thread. */
export async function startChunkPool(
  diskPath: string,
  keys: RepositoryKeys,
  chunkSize: number,
  compressionLevel: number,
  threads: number,
): Promise<ChunkPool> {
  const setup: WorkerSetup = {
    diskPath,
    encryptionKey: keys.encryption,
    chunkIdKey: keys.chunkId,
    chunkSize,
    compressionLevel,
  };
  if (threads === 0) {
    return new InlinePool(await openChunkProcessor(setup, { onWorkerThread: false }), PER_WORKER * 2);
  }
  return WorkerPool.start<ChunkTask, ChunkResult>(
    new URL('./chunk-worker.js', import.meta.url),
    setup,
    threads,
    PER_WORKER,
  );
}
