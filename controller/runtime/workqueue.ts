import type { Clock } from './clock.js';
import { backoffDelay } from './backoff.js';

export type ReconcileResult = { requeueAfterMs?: number } | undefined;

/**
 * A key work queue in the controller-runtime mould: a key waiting to be processed is held once
 * however often it is added; a key is never handed to two workers at once (added while in
 * flight, it runs again afterwards); failures back off per key exponentially, success forgets.
 */
export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, { due: number; cancel: () => void }>();
  private waiters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;

  constructor(
    private readonly clock: Clock,
    private readonly backoff: { baseMs?: number; maxMs?: number } = {},
  ) {}

  get depth(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) {
      return;
    }
    this.dirty.add(key);
    if (this.processing.has(key)) {
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      this.dirty.delete(key);
      this.processing.add(key);
      waiter(key);
      return;
    }
    this.queue.push(key);
  }

  /** Adds the key after `ms`; an earlier pending due time for the same key wins. */
  addAfter(key: string, ms: number): void {
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const due = this.clock.timerTimeMs() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.due <= due) {
      return;
    }
    existing?.cancel();
    const cancel = this.clock.setTimer(ms, () => {
      this.delayed.delete(key);
      this.add(key);
    });
    this.delayed.set(key, { due, cancel });
  }

  /** Requeues after a failure with per-key exponential back-off. */
  addRateLimited(key: string): number {
    const attempt = this.failures.get(key) ?? 0;
    this.failures.set(key, attempt + 1);
    const delay = backoffDelay(attempt, this.backoff);
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears the key's failure history (after a successful reconcile). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Waits for the next key; resolves undefined once the queue shuts down. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) {
      return Promise.resolve(undefined);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks the key finished; if it was added again meanwhile it goes back on the queue. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      this.add(key);
    }
  }

  shutdown(): void {
    this.shuttingDown = true;
    for (const { cancel } of this.delayed.values()) {
      cancel();
    }
    this.delayed.clear();
    for (const waiter of this.waiters) {
      waiter(undefined);
    }
    this.waiters = [];
  }
}

export interface WorkerHooks {
  onError?(key: string, err: unknown, retryInMs: number): void;
  onDone?(key: string, seconds: number): void;
}

/**
 * Runs `workers` loops taking keys from the queue into `reconcile`. An error requeues with
 * back-off; a result may ask to run again later (the periodic safety-net requeue).
 */
export async function runWorkers(
  queue: WorkQueue,
  workers: number,
  reconcile: (key: string) => Promise<ReconcileResult>,
  hooks: WorkerHooks = {},
): Promise<void> {
  const loop = async (): Promise<void> => {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) {
        return;
      }
      const started = performance.now();
      try {
        const result = await reconcile(key);
        queue.forget(key);
        if (result?.requeueAfterMs !== undefined) {
          queue.addAfter(key, result.requeueAfterMs);
        }
      } catch (err) {
        const retryIn = queue.addRateLimited(key);
        hooks.onError?.(key, err, retryIn);
      } finally {
        queue.done(key);
        hooks.onDone?.(key, (performance.now() - started) / 1000);
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, loop));
}
