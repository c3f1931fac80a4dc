/**
 * Watches a namespace's recovery points for the whole run, by listing them every second: a point
 * that fails is deleted by retention soon after, so the end state alone would hide it. Listing
 * errors (the API server restarting) are counted, not fatal.
 */
import type { RecoveryPoint } from '../../../../controller/api/index.js';
import type { Clients } from '../../../../controller/manager/world.js';
import type { ObservedPoint } from './figures.js';

export class PointObserver {
  readonly points = new Map<string, ObservedPoint>();
  /** The newest list of points seen. */
  latest: RecoveryPoint[] = [];
  listErrors = 0;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;

  constructor(
    private readonly clients: Clients,
    private readonly namespace: string,
  ) {}

  start(intervalMs = 1000): void {
    this.timer = setInterval(() => {
      this.polling ??= this.poll()
        .then(() => undefined)
        .finally(() => {
          this.polling = undefined;
        });
    }, intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.polling;
  }

  async poll(): Promise<RecoveryPoint[]> {
    try {
      this.latest = (await this.clients.recoveryPoints.list(this.namespace)).items;
    } catch {
      this.listErrors++;
      return this.latest;
    }
    for (const rp of this.latest) {
      const slot = rp.spec.scheduledTime;
      const phase = rp.status?.phase ?? 'Pending';
      if (!slot) {
        continue;
      }
      const seen = this.points.get(rp.metadata.name) ?? {
        name: rp.metadata.name,
        vm: rp.spec.vm.name ?? rp.spec.vm.id ?? '',
        slot,
        phases: [],
        phase,
      };
      if (!seen.phases.includes(phase)) {
        seen.phases.push(phase);
      }
      seen.phase = phase;
      const reason = rp.status?.failure?.reason;
      if (reason) {
        seen.failureReason = reason;
      }
      this.points.set(rp.metadata.name, seen);
    }
    return this.latest;
  }
}
