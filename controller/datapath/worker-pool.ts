/**
 * A small pool of worker threads with a bounded number of tasks in flight per worker, so memory
 * stays proportional to the thread count whatever the disk size. The worker side is
 * `serveTasks` (worker-tasks.ts). Used by backups (chunk-worker.ts) and restores (restore-worker.ts).
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';

interface Slot {
  worker: Worker;
  busy: number;
}

type Reply<R> = { seq: number; result: R } | { seq: number; error: string };

export class WorkerPool<T, R> {
  private readonly waiting = new Map<number, { resolve: (r: R) => void; reject: (e: Error) => void }>();
  private readonly freed: (() => void)[] = [];
  private seq = 0;
  private closing?: Promise<void>;

  private constructor(
    private readonly slots: Slot[],
    private readonly perWorker: number,
  ) {
    for (const slot of slots) {
      slot.worker.on('message', (reply: Reply<R>) => {
        slot.busy--;
        const waiter = this.waiting.get(reply.seq);
        this.waiting.delete(reply.seq);
        if ('error' in reply) {
          waiter?.reject(new Error(reply.error));
        } else {
          waiter?.resolve(reply.result);
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

  /** Starts `threads` workers running `script` and waits until each has set itself up. */
  static async start<T, R>(
    script: URL,
    workerData: unknown,
    threads: number,
    perWorker: number,
  ): Promise<WorkerPool<T, R>> {
    const workers = Array.from({ length: threads }, () => new Worker(script, { workerData }));
    try {
      await Promise.all(
        workers.map(async (w) => {
          const [message] = (await Promise.race([
            once(w, 'message'),
            once(w, 'error').then(([e]) => Promise.reject(e as Error)),
          ])) as unknown[];
          if (message !== 'ready') {
            throw new Error(`worker ${script.pathname} failed to start`);
          }
        }),
      );
    } catch (err) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw err;
    }
    return new WorkerPool<T, R>(
      workers.map((worker) => ({ worker, busy: 0 })),
      perWorker,
    );
  }

  /**
   * Waits for a free worker and hands it the task; `result` settles when the task is done
   * (wrapped, so awaiting the hand-off does not wait for the result).
   */
  async submit(task: T): Promise<{ result: Promise<R> }> {
    let slot = this.idleSlot();
    while (!slot) {
      await new Promise<void>((resolve) => this.freed.push(resolve));
      slot = this.idleSlot();
    }
    const seq = this.seq++;
    slot.busy++;
    const result = new Promise<R>((resolve, reject) => this.waiting.set(seq, { resolve, reject }));
    slot.worker.postMessage({ seq, task });
    return { result };
  }

  private idleSlot(): Slot | undefined {
    const best = this.slots.reduce((a, b) => (b.busy < a.busy ? b : a));
    return best.busy < this.perWorker ? best : undefined;
  }

  /** Lets each worker finish its tasks and clean up; calling it again waits for the same. */
  close(): Promise<void> {
    return (this.closing ??= this.stop());
  }

  private async stop(): Promise<void> {
    await Promise.all(
      this.slots.map(async ({ worker }) => {
        const exited = once(worker, 'exit');
        worker.postMessage('close');
        await exited;
      }),
    );
  }
}
