/**
 * A pool of chunk workers (chunk-worker.ts) with a bounded number of chunks in flight, so memory
 * stays proportional to the thread count whatever the disk size.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { RepositoryKeys } from '../repository/crypto.js';

export interface WorkerSetup {
  diskPath: string;
  encryptionKey: Uint8Array;
  chunkIdKey: Uint8Array;
  chunkSize: number;
  compressionLevel: number;
}

/** A run of consecutive chunks, read with one large read (sequential I/O) and processed one by one. */
export interface ChunkTask {
  seq: number;
  offset: number;
  length: number;
  /** Per chunk of the run: its id in the previous recovery point, if any. */
  previous: (string | null | undefined)[];
}

export type ChunkOutcome =
  { kind: 'zero' } | { kind: 'same'; id: string } | { kind: 'new'; id: string; blob: Uint8Array };

export interface ChunkResult {
  seq: number;
  chunks: ChunkOutcome[];
}

export type WorkerReply = ChunkResult | { seq: number; error: string };

/** Bytes per task: 4 MiB reads, where sequential reads from the image reach full speed. */
export const TASK_BYTES = 4 * 1024 * 1024;

export function chunksPerTask(chunkSize: number): number {
  return Math.max(1, Math.floor(TASK_BYTES / chunkSize));
}

/** Tasks each worker holds at once: one being read while another is hashed and sealed. */
const PER_WORKER = 2;

interface Slot {
  worker: Worker;
  busy: number;
}

export class ChunkPool {
  private readonly waiting = new Map<
    number,
    { resolve: (r: ChunkResult) => void; reject: (e: Error) => void }
  >();
  private readonly freed: (() => void)[] = [];
  private seq = 0;

  private constructor(private readonly slots: Slot[]) {
    for (const slot of slots) {
      slot.worker.on('message', (result: WorkerReply) => {
        slot.busy--;
        const waiter = this.waiting.get(result.seq);
        this.waiting.delete(result.seq);
        if ('error' in result) {
          waiter?.reject(new Error(result.error));
        } else {
          waiter?.resolve(result);
        }
        this.freed.shift()?.();
      });
      slot.worker.on('error', (err: Error) => {
        for (const w of this.waiting.values()) {
          w.reject(err);
        }
        this.waiting.clear();
      });
    }
  }

  static async start(
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
    const workers = Array.from(
      { length: threads },
      () => new Worker(new URL('./chunk-worker.js', import.meta.url), { workerData: setup }),
    );
    try {
      await Promise.all(
        workers.map(async (w) => {
          const [message] = (await Promise.race([
            once(w, 'message'),
            once(w, 'error').then(([e]) => Promise.reject(e as Error)),
          ])) as unknown[];
          if (message !== 'ready') {
            throw new Error('chunk worker failed to start');
          }
        }),
      );
    } catch (err) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw err;
    }
    return new ChunkPool(workers.map((worker) => ({ worker, busy: 0 })));
  }

  /**
   * Waits for a free worker and hands it the chunk; `result` settles when the chunk is processed
   * (wrapped, so awaiting the hand-off does not wait for the result).
   */
  async submit(
    offset: number,
    length: number,
    previous: (string | null | undefined)[],
  ): Promise<{ result: Promise<ChunkResult> }> {
    let slot = this.idleSlot();
    while (!slot) {
      await new Promise<void>((resolve) => this.freed.push(resolve));
      slot = this.idleSlot();
    }
    const seq = this.seq++;
    slot.busy++;
    const task: ChunkTask = { seq, offset, length, previous };
    const done = new Promise<ChunkResult>((resolve, reject) => this.waiting.set(seq, { resolve, reject }));
    slot.worker.postMessage(task);
    return { result: done };
  }

  private idleSlot(): Slot | undefined {
    const best = this.slots.reduce((a, b) => (b.busy < a.busy ? b : a));
    return best.busy < PER_WORKER ? best : undefined;
  }

  /** Lets each worker finish its chunks and close its disk. */
  async close(): Promise<void> {
    await Promise.all(
      this.slots.map(async ({ worker }) => {
        const exited = once(worker, 'exit');
        worker.postMessage('close');
        await exited;
      }),
    );
  }
}
