import type { Logger } from '../common/log.js';
import type { Clock } from './clock.js';
import type { RuntimeMetrics } from './metrics.js';
import { WorkQueue, runWorkers, type ReconcileResult } from './workqueue.js';

/** A reconciler: given a key, read the world, move it one step toward the spec, write status. */
export interface Reconciler {
  readonly name: string;
  reconcile(key: string): Promise<ReconcileResult>;
}

/**
 * One reconciler with its own work queue and workers. Watches feed it keys through `enqueue`;
 * what caused the key is deliberately not passed on (level-based reconciling).
 */
export class Controller {
  readonly queue: WorkQueue;

  constructor(
    readonly reconciler: Reconciler,
    private readonly deps: { clock: Clock; logger: Logger; metrics: RuntimeMetrics; workers?: number },
  ) {
    this.queue = new WorkQueue(deps.clock, { baseMs: 50, maxMs: 300_000 });
  }

  enqueue = (key: string): void => {
    this.queue.add(key);
    this.deps.metrics.queueDepth.set({ controller: this.reconciler.name }, this.queue.depth);
  };

  /** Enqueues after `ms`; adds within that time are one pass (the earliest due time wins). */
  enqueueAfter = (key: string, ms: number): void => {
    this.queue.addAfter(key, ms);
  };

  run(): Promise<void> {
    const { logger, metrics } = this.deps;
    const name = this.reconciler.name;
    return runWorkers(this.queue, this.deps.workers ?? 2, (key) => this.reconciler.reconcile(key), {
      onError(key, err, retryInMs) {
        metrics.reconcileErrors.inc({ controller: name });
        logger.warn('reconcile failed; will retry', { controller: name, key, error: String(err), retryInMs });
      },
      onDone: (key, seconds) => {
        metrics.reconcileDuration.observe({ controller: name }, seconds);
        metrics.queueDepth.set({ controller: name }, this.queue.depth);
      },
    });
  }

  stop(): void {
    this.queue.shutdown();
  }
}
