import { ResourceClient } from '../kube/client.js';
import { isConflict, isNotFound, type KubeRest } from '../kube/rest.js';
import type { KubeObject } from '../kube/objects.js';
import type { Logger } from '../common/log.js';

interface Lease extends KubeObject {
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

const leaseType = {
  group: 'coordination.k8s.io',
  version: 'v1',
  kind: 'Lease',
  plural: 'leases',
  namespaced: true,
};

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  logger: Logger;
  onStartedLeading: () => void;
  /** Called once when leadership is lost; the process should stop reconciling at once (usually exit). */
  onStoppedLeading: () => void;
}

const microTime = (ms: number): string => new Date(ms).toISOString().replace('Z', '000Z');

/**
 * Lease-based leader election in the client-go mould (15 s lease, 10 s renew deadline, 2 s retry).
 * Expiry is judged by when this replica last saw the lease change on its own clock, never by
 * comparing another replica's timestamps, so clock skew between replicas cannot elect two leaders.
 */
export class LeaderElector {
  private readonly leases: ResourceClient<Lease>;
  private observed: { record: string; at: number } | undefined;
  private leading = false;
  private lastRenew = 0;
  private readonly stopping = new AbortController();

  constructor(
    rest: KubeRest,
    private readonly opts: LeaderElectionOptions,
  ) {
    this.leases = new ResourceClient<Lease>(rest, leaseType);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  async run(): Promise<void> {
    const { retryPeriodMs = 2000, renewDeadlineMs = 10_000 } = this.opts;
    while (!this.stopping.signal.aborted) {
      const ok = await this.tryAcquireOrRenew().catch((err: unknown) => {
        this.opts.logger.warn('leader election round failed', { error: String(err) });
        return false;
      });
      const now = Date.now();
      if (ok) {
        this.lastRenew = now;
        if (!this.leading) {
          this.leading = true;
          this.opts.logger.info('became leader', { lease: this.opts.name, identity: this.opts.identity });
          this.opts.onStartedLeading();
        }
      } else if (this.leading && now - this.lastRenew > renewDeadlineMs) {
        this.leading = false;
        this.opts.logger.error('lost the leader lease', {
          lease: this.opts.name,
          identity: this.opts.identity,
        });
        this.opts.onStoppedLeading();
        return;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, retryPeriodMs);
        this.stopping.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Stops campaigning; a leader hands the lease back so another replica takes over at once. */
  async release(): Promise<void> {
    this.stopping.abort();
    if (!this.leading) {
      return;
    }
    this.leading = false;
    const lease = await this.leases.get(this.opts.name, this.opts.namespace);
    if (lease?.spec.holderIdentity === this.opts.identity) {
      await this.leases
        .replace({
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: '',
            leaseDurationSeconds: 1,
            renewTime: microTime(Date.now()),
          },
        })
        .catch(() => undefined);
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity, leaseDurationMs = 15_000 } = this.opts;
    const now = Date.now();
    const spec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.round(leaseDurationMs / 1000),
      renewTime: microTime(now),
    };
    const current = await this.leases.get(name, namespace);
    if (!current) {
      try {
        await this.leases.create({
          metadata: { name, namespace },
          spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 },
        });
        return true;
      } catch (err) {
        if (isConflict(err) || isNotFound(err)) {
          return false;
        }
        throw err;
      }
    }
    const record = JSON.stringify(current.spec);
    if (this.observed?.record !== record) {
      this.observed = { record, at: now };
    }
    const holder = current.spec.holderIdentity ?? '';
    const durationMs = (current.spec.leaseDurationSeconds ?? 15) * 1000;
    const expired = holder === '' || now - this.observed.at > durationMs;
    if (holder !== identity && !expired) {
      return false;
    }
    const takingOver = holder !== identity;
    const next: Lease = {
      ...current,
      spec: {
        ...current.spec,
        ...spec,
        ...(takingOver
          ? { acquireTime: microTime(now), leaseTransitions: (current.spec.leaseTransitions ?? 0) + 1 }
          : {}),
      },
    };
    try {
      await this.leases.replace(next);
      this.observed = { record: JSON.stringify(next.spec), at: now };
      return true;
    } catch (err) {
      if (isConflict(err)) {
        return false;
      }
      throw err;
    }
  }
}
