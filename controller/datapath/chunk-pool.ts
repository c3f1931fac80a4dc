/** The backup's worker pool (chunk-worker.ts): tasks, results and setup. */
import type { RepositoryKeys } from '../repository/crypto.js';
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
  { kind: 'zero' } | { kind: 'same'; id: string } | { kind: 'new'; id: string; blob: Uint8Array };

/** The new chunks' blobs of one result are views of one buffer, moved from the worker. */
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

export type ChunkPool = WorkerPool<ChunkTask, ChunkResult>;

export function startChunkPool(
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
  return WorkerPool.start(new URL('./chunk-worker.js', import.meta.url), setup, threads, PER_WORKER);
}
