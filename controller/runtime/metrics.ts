import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The controller runtime's own metrics, in one registry so tests can build as many as they like. */
export class RuntimeMetrics {
  readonly registry = new Registry();

  readonly informerRestarts = new Counter({
    name: 'shadowkeep_informer_restarts_total',
    help: 'Watch restarts per resource after errors, silence (watchdog) or expired resource versions.',
    labelNames: ['resource', 'cause'],
    registers: [this.registry],
  });

  readonly informerLastEvent = new Gauge({
    name: 'shadowkeep_informer_last_event_timestamp_seconds',
    help: 'When each informer last heard from the API server (events or bookmarks).',
    labelNames: ['resource'],
    registers: [this.registry],
  });

  readonly queueDepth = new Gauge({
    name: 'shadowkeep_workqueue_depth',
    help: 'Keys waiting in each reconciler work queue.',
    labelNames: ['controller'],
    registers: [this.registry],
  });

  readonly reconcileErrors = new Counter({
    name: 'shadowkeep_reconcile_errors_total',
    help: 'Reconciles that returned an error and were requeued with back-off.',
    labelNames: ['controller'],
    registers: [this.registry],
  });

  readonly reconcileDuration = new Histogram({
    name: 'shadowkeep_reconcile_duration_seconds',
    help: 'Time spent in one reconcile.',
    labelNames: ['controller'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [this.registry],
  });

  readonly leader = new Gauge({
    name: 'shadowkeep_leader',
    help: '1 while this replica holds the leader lease.',
    registers: [this.registry],
  });

  constructor({ processMetrics = false } = {}) {
    if (processMetrics) {
      collectDefaultMetrics({ register: this.registry, prefix: 'shadowkeep_' });
    }
  }
}
