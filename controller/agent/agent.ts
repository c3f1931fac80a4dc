import {
  hyperVVirtualMachineName,
  labels,
  type BackupRepository,
  type HyperVHost,
  type HyperVVirtualMachine,
  type RecoveryPoint,
  type VirtualMachineProtection,
  type VirtualMachineRestore,
} from '../api/index.js';
import type { Logger } from '../common/log.js';
import { HypervisorError, type Hypervisor, type VmInfo } from '../hypervisor/types.js';
import type { ResourceClient } from '../kube/client.js';
import { clientsFor } from '../manager/world.js';
import { keyOf } from '../kube/objects.js';
import { isConflict, type KubeRest } from '../kube/rest.js';
import { openRepository } from '../repositories/access.js';
import { sameStatus } from '../runtime/conditions.js';
import { Informer } from '../runtime/informer.js';
import { RuntimeMetrics } from '../runtime/metrics.js';
import { untilSuccess } from '../runtime/retry.js';
import { BackupFailure, runBackup } from './backup-job.js';
import { failInterruptedRestore, runRestore } from './restore-job.js';
import { hostStatus, vmStatus } from './inventory.js';
import { failedStatus } from '../recoverypoint/status.js';

export const agentFieldManager = 'shadowkeep-agent';
export const agentVersion = '0.1.0';

export interface AgentOptions {
  rest: KubeRest;
  hypervisor: Hypervisor;
  backend: 'hyperv' | 'filehost';
  logger: Logger;
  inventoryIntervalMs?: number;
  maxConcurrentJobs?: number;
  /** A VM missing from this node for this long, and claimed by no other node, leaves the inventory. */
  goneAfterMs?: number;
  now?: () => Date;
}

/**
 * The host agent: publishes this node's HyperVHost and the HyperVVirtualMachines it owns, and
 * runs the recovery points the controller assigned to this node. It acts only for its own node:
 * it watches only objects labelled with it, and the hypervisor refuses VMs it does not own.
 */
export class Agent {
  private readonly hosts: ResourceClient<HyperVHost>;
  private readonly vms: ResourceClient<HyperVVirtualMachine>;
  private readonly points: ResourceClient<RecoveryPoint>;
  private readonly repositories: ResourceClient<BackupRepository>;
  private readonly protections: ResourceClient<VirtualMachineProtection>;
  private readonly assigned: Informer<RecoveryPoint>;
  private readonly assignedRestores: Informer<VirtualMachineRestore>;
  private readonly restores: ResourceClient<VirtualMachineRestore>;
  /** Jobs under way, keyed `RecoveryPoint/ns/name` or `VirtualMachineRestore/ns/name`. */
  private readonly running = new Map<string, Promise<void>>();
  private readonly missingSince = new Map<string, number>();
  private readonly startedAt: Date;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly opts: AgentOptions) {
    const { rest } = opts;
    const clients = clientsFor(rest);
    this.hosts = clients.hosts;
    this.vms = clients.vms;
    this.points = clients.recoveryPoints;
    this.repositories = clients.repositories;
    this.protections = clients.protections;
    this.restores = clients.restores;
    this.assigned = new Informer(this.points, {
      selector: { labelSelector: `${labels.node}=${opts.hypervisor.node}` },
      logger: opts.logger,
      metrics: new RuntimeMetrics(),
    });
    this.assignedRestores = new Informer(this.restores, {
      selector: { labelSelector: `${labels.node}=${opts.hypervisor.node}` },
      logger: opts.logger,
      metrics: new RuntimeMetrics(),
    });
    this.startedAt = this.now();
  }

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  get node(): string {
    return this.opts.hypervisor.node;
  }

  async start(): Promise<void> {
    const { logger } = this.opts;
    await untilSuccess(() => this.recoverFromRestart(), { logger, what: 'recovering from a restart' });
    await untilSuccess(() => this.refreshInventory(), { logger, what: 'publishing the inventory' });
    this.assigned.onChange(() => {
      this.startWaitingJobs();
    });
    this.assignedRestores.onChange(() => {
      this.startWaitingJobs();
    });
    this.assigned.start();
    this.assignedRestores.start();
    await Promise.all([this.assigned.synced, this.assignedRestores.synced]);
    this.startWaitingJobs();
    const tick = (): void => {
      this.timer = setTimeout(() => {
        this.refreshing = this.refreshInventory()
          .catch((err: unknown) => {
            this.opts.logger.warn('inventory refresh failed', { error: String(err) });
          })
          .finally(() => {
            if (!this.stopped) {
              tick();
            }
          });
      }, this.opts.inventoryIntervalMs ?? 10_000);
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    // A refresh under way would publish the inventory again after whoever stopped us cleaned up.
    await this.refreshing;
    await Promise.all([this.assigned.stop(), this.assignedRestores.stop()]);
    await Promise.allSettled(this.running.values());
  }

  /** Waits for the backups running now (tests and graceful shutdown). */
  async idle(): Promise<void> {
    await Promise.allSettled(this.running.values());
  }

  /**
   * After a crash or restart: backups this node had under way cannot be resumed (their snapshot
   * state is gone with the process), so they fail with a reason and the policy retries; restores
   * under way fail with what they may have left (a boot test's VM is removed); recovery snapshots
   * no job owns any more are released.
   */
  private async recoverFromRestart(): Promise<void> {
    const { items } = await this.points.list(undefined, { labelSelector: `${labels.node}=${this.node}` });
    for (const rp of items.filter(
      (p) => p.status?.phase === 'Snapshotting' || p.status?.phase === 'Transferring',
    )) {
      const message = `the agent on ${this.node} restarted during this backup; the repository keeps every earlier recovery point, and a new attempt will follow`;
      await this.points.applyStatus(
        rp.metadata.name,
        rp.metadata.namespace,
        failedStatus(rp, 'AgentRestarted', message, this.now()),
        agentFieldManager,
      );
    }
    const { items: restores } = await this.restores.list(undefined, {
      labelSelector: `${labels.node}=${this.node}`,
    });
    for (const restore of restores.filter(
      (r) => r.status?.phase === 'Restoring' && r.status.nodeName === this.node,
    )) {
      await failInterruptedRestore(restore, {
        hypervisor: this.opts.hypervisor,
        restores: this.restores,
        fieldManager: agentFieldManager,
        node: this.node,
        now: () => this.now(),
      });
    }
    for (const stale of await this.opts.hypervisor.listRecoverySnapshots()) {
      this.opts.logger.info('releasing a snapshot left by an interrupted backup', {
        vm: stale.vmName,
        label: stale.label,
      });
      await this.opts.hypervisor.releaseSnapshot(stale, { keepAsReference: false }).catch((err: unknown) => {
        this.opts.logger.warn('could not release a stale snapshot', { vm: stale.vmName, error: String(err) });
      });
    }
  }

  /** Starts the assigned work that waits, while job slots are free: recovery points first. */
  private startWaitingJobs(): void {
    // A stopped agent's caches no longer change: starting from them would retry the same job forever.
    if (this.stopped) {
      return;
    }
    const waiting = (o: {
      metadata: { deletionTimestamp?: string };
      status?: { phase?: string; nodeName?: string };
    }): boolean =>
      !o.metadata.deletionTimestamp &&
      (o.status?.phase ?? 'Pending') === 'Pending' &&
      o.status?.nodeName === this.node;
    for (const rp of this.assigned.list(waiting)) {
      this.track(`RecoveryPoint/${keyOf(rp.metadata)}`, () =>
        runBackup(structuredClone(rp), {
          hypervisor: this.opts.hypervisor,
          points: this.points,
          repositories: this.repositories,
          protections: this.protections,
          // The first backup into empty storage creates the repository.
          openRepository: (repo) => openRepository(this.opts.rest, repo, { create: true }),
          fieldManager: agentFieldManager,
          logger: this.opts.logger,
          now: () => this.now(),
        }),
      );
    }
    for (const restore of this.assignedRestores.list(waiting)) {
      this.track(`VirtualMachineRestore/${keyOf(restore.metadata)}`, () =>
        runRestore(structuredClone(restore), {
          hypervisor: this.opts.hypervisor,
          restores: this.restores,
          points: this.points,
          repositories: this.repositories,
          openRepository: (repo) => openRepository(this.opts.rest, repo),
          fieldManager: agentFieldManager,
          node: this.node,
          logger: this.opts.logger,
          now: () => this.now(),
        }),
      );
    }
  }

  /** Runs one job unless it runs already or every slot is taken; logs its end and frees its slot. */
  private track(job: string, run: () => Promise<void>): void {
    if (this.running.has(job) || this.running.size >= (this.opts.maxConcurrentJobs ?? 4)) {
      return;
    }
    const done = run()
      .then(() => {
        this.opts.logger.info('job completed', { job });
      })
      .catch((err: unknown) => {
        const level = err instanceof BackupFailure || err instanceof HypervisorError ? 'warn' : 'error';
        this.opts.logger[level]('job failed', { job, error: String(err) });
      })
      .finally(() => {
        this.running.delete(job);
        // A slot is free: start whatever else is waiting for this node.
        this.startWaitingJobs();
      });
    this.running.set(job, done);
  }

  /** Publishes the host and its VMs; writes only what changed, except the heartbeat. */
  async refreshInventory(): Promise<void> {
    const { hypervisor } = this.opts;
    const [host, vms] = await Promise.all([hypervisor.getHost(), hypervisor.listVms()]);
    const now = this.now();
    await this.publishHost(host, vms.length, now);
    const { items: mine } = await this.vms.list(undefined, { labelSelector: `${labels.node}=${this.node}` });
    const present = new Set<string>();
    for (const vm of vms) {
      present.add(hyperVVirtualMachineName(vm.id));
      await this.publishVm(vm, host, mine);
    }
    for (const object of mine.filter((o) => !present.has(o.metadata.name))) {
      const since = this.missingSince.get(object.metadata.name) ?? now.getTime();
      this.missingSince.set(object.metadata.name, since);
      if (now.getTime() - since >= (this.opts.goneAfterMs ?? 300_000)) {
        await this.vms.delete(object.metadata.name);
        this.missingSince.delete(object.metadata.name);
      }
    }
    for (const name of present) {
      this.missingSince.delete(name);
    }
  }

  private async publishHost(
    host: Awaited<ReturnType<Hypervisor['getHost']>>,
    vmCount: number,
    now: Date,
  ): Promise<void> {
    const existing = await this.hosts.get(this.node);
    if (!existing) {
      await this.hosts
        .create({
          apiVersion: 'shadowkeep.io/v1alpha1',
          kind: 'HyperVHost',
          metadata: { name: this.node },
          spec: {},
        })
        .catch((err: unknown) => {
          if (!isConflict(err)) {
            throw err;
          }
        });
    }
    const jobs = [...this.running.keys()].map((job) => {
      const [kind, namespace = '', name = ''] = job.split('/');
      return {
        kind:
          kind === 'VirtualMachineRestore' ? ('VirtualMachineRestore' as const) : ('RecoveryPoint' as const),
        namespace,
        name,
      };
    });
    await this.hosts.applyStatus(
      this.node,
      undefined,
      hostStatus(host, {
        backend: this.opts.backend,
        agentVersion,
        vmCount,
        jobs,
        now,
        since: this.startedAt,
        maxConcurrentJobs: this.opts.maxConcurrentJobs ?? 4,
      }),
      agentFieldManager,
    );
  }

  private async publishVm(
    vm: VmInfo,
    host: Awaited<ReturnType<Hypervisor['getHost']>>,
    mine: readonly HyperVVirtualMachine[],
  ): Promise<void> {
    const name = hyperVVirtualMachineName(vm.id);
    let object = mine.find((o) => o.metadata.name === name) ?? (await this.vms.get(name));
    if (!object) {
      object = await this.vms
        .create({
          apiVersion: 'shadowkeep.io/v1alpha1',
          kind: 'HyperVVirtualMachine',
          metadata: { name, labels: { [labels.node]: this.node } },
          spec: { id: name },
        })
        .catch(async (err: unknown) => {
          const existing = isConflict(err) ? await this.vms.get(name) : undefined;
          if (existing) {
            return existing;
          }
          throw err;
        });
    } else if (object.metadata.labels?.[labels.node] !== this.node) {
      // The VM live-migrated here: take it over, keeping the labels people put on it.
      object = await this.vms.mergePatch(name, undefined, {
        metadata: { labels: { [labels.node]: this.node } },
      });
    }
    const status = vmStatus(vm, host);
    const current = { ...object.status };
    delete current.protectedBy;
    delete current.lastRecoveryPoint;
    if (!sameStatus(current, status)) {
      await this.vms.applyStatus(name, undefined, status, agentFieldManager);
    }
  }
}
