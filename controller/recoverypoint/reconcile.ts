import {
  annotations,
  finalizers,
  labels,
  toLabelValue,
  vmIdOf,
  type RecoveryPoint,
  type RecoveryPointStatus,
} from '../api/index.js';
import type { Logger } from '../common/log.js';
import type { EventRecorder } from '../kube/events.js';
import { keyOf } from '../kube/objects.js';
import type { Clock } from '../runtime/clock.js';
import type { Reconciler } from '../runtime/controller.js';
import type { ReconcileResult } from '../runtime/workqueue.js';
import type { Clients, Informers } from '../manager/world.js';
import { isTerminal, place, type ActiveBackup, type PlacementHost, type PlacementVM } from './placement.js';
import type { RecoveryPointData } from './data.js';
import { failedStatus, notReady } from './status.js';

export const fieldManager = 'shadowkeep-controller';
const defaultLimits = { perHost: 2, perVolume: 1 };
/** How soon a point held back by a tick's creates looks again. */
const placeAfterCreatesMs = 500;
/** After this long of failing to remove a deleted point's data, the object goes anyway (with an Event). */
const dataCleanupGiveUpMs = 3_600_000;

export interface RecoveryPointDeps {
  /** True while a policy is creating a tick's points: new points are placed after that. */
  creatingPoints?: () => boolean;
  clients: Clients;
  informers: Informers;
  clock: Clock;
  logger: Logger;
  events: EventRecorder;
  data: RecoveryPointData;
}

const inFlight = (rp: RecoveryPoint): boolean =>
  !rp.metadata.deletionTimestamp && !['Completed', 'Failed'].includes(rp.status?.phase ?? 'Pending');

/**
 * Places recovery points on the node that owns their VM (honouring concurrency limits), fails
 * those whose agent vanished, and on deletion removes their data from every repository.
 */
export class RecoveryPointReconciler implements Reconciler {
  readonly name = 'recoverypoint';
  /** Assignments written but not yet seen in the cache, so one pass cannot overfill a host. */
  private readonly recentlyAssigned = new Map<string, ActiveBackup>();

  constructor(private readonly deps: RecoveryPointDeps) {}

  async reconcile(key: string): Promise<ReconcileResult> {
    const rp = this.deps.informers.recoveryPoints.get(key);
    if (!rp) {
      this.recentlyAssigned.delete(key);
      return undefined;
    }
    if (rp.metadata.deletionTimestamp) {
      return this.reconcileDelete(rp, rp.metadata.deletionTimestamp);
    }
    if (await this.ensureLabels(rp)) {
      return undefined;
    }
    if (rp.metadata.annotations?.[annotations.importedFrom] && !rp.status?.phase) {
      // Rebuilt from a repository: its status is being written, it is no backup to take.
      return undefined;
    }
    return this.reconcilePlacement(key, rp);
  }

  /**
   * Recovery points people create on demand carry only a spec: give them the labels that
   * `kubectl get rp -l ...`, the agents and incrementals rely on, and the finalizer that removes
   * their data when they are deleted. True when it wrote.
   */
  private async ensureLabels(rp: RecoveryPoint): Promise<boolean> {
    const byName = rp.spec.vm.name?.toLowerCase();
    // A name resolves only when exactly one VM carries it: Hyper-V names are not unique across hosts.
    // Only looked for without an ID: a scan of every VM per point adds up at tens of thousands.
    const onlyVMNamed = (): string | undefined => {
      const named = byName
        ? this.deps.informers.vms.list((vm) => vm.status?.vmName?.toLowerCase() === byName)
        : [];
      return named.length === 1 ? named[0]?.spec.id.toLowerCase() : undefined;
    };
    const resolvedId = vmIdOf(rp) ?? onlyVMNamed();
    const wanted: Record<string, string> = {
      ...(resolvedId ? { [labels.vmId]: resolvedId } : {}),
      ...(rp.spec.vm.name ? { [labels.vm]: toLabelValue(rp.spec.vm.name) } : {}),
      ...(rp.spec.protection ? { [labels.protection]: rp.spec.protection } : {}),
    };
    const missing = Object.entries(wanted).filter(([k, v]) => rp.metadata.labels?.[k] !== v);
    const finalizerMissing = !(rp.metadata.finalizers ?? []).includes(finalizers.recoveryPointData);
    if (missing.length === 0 && !finalizerMissing) {
      return false;
    }
    await this.deps.clients.recoveryPoints.mergePatch(rp.metadata.name, rp.metadata.namespace, {
      metadata: {
        labels: Object.fromEntries(missing),
        ...(finalizerMissing
          ? {
              resourceVersion: rp.metadata.resourceVersion,
              finalizers: [...(rp.metadata.finalizers ?? []), finalizers.recoveryPointData],
            }
          : {}),
      },
    });
    return true;
  }

  private activeBackups(): ActiveBackup[] {
    const { informers } = this.deps;
    const volumesOf = (vmId: string): string[] => {
      const vm = informers.vms.peek(vmId.toLowerCase());
      return [...new Set((vm?.status?.disks ?? []).map((d) => volumeOf(d.path ?? '')))];
    };
    const seen = informers.recoveryPoints.list(inFlight).flatMap((p) => {
      const node = p.metadata.labels?.[labels.node];
      const group = p.spec.consistencyGroup;
      return node
        ? [{ key: keyOf(p.metadata), node, volumes: volumesOf(vmIdOf(p) ?? ''), ...(group ? { group } : {}) }]
        : [];
    });
    for (const active of seen) {
      this.recentlyAssigned.delete(active.key);
    }
    return [...seen, ...this.recentlyAssigned.values()];
  }

  private async reconcilePlacement(key: string, rp: RecoveryPoint): Promise<ReconcileResult> {
    // A finished point has no place to go (place() says so too): deciding it without gathering
    // every active backup first keeps a restart with 50,000 completed points from taking minutes.
    if (isTerminal(rp.status?.phase ?? 'Pending')) {
      return undefined;
    }
    if (!rp.metadata.labels?.[labels.node] && this.deps.creatingPoints?.()) {
      return { requeueAfterMs: placeAfterCreatesMs };
    }
    const { informers, clients, clock } = this.deps;
    const now = clock.now();
    const vmId = vmIdOf(rp);
    if (!vmId && rp.spec.vm.name) {
      const name = rp.spec.vm.name.toLowerCase();
      const named = informers.vms.list((vm) => vm.status?.vmName?.toLowerCase() === name);
      if (named.length > 1) {
        const ids = named.map((vm) => `${vm.spec.id} on ${vm.status?.host ?? '?'}`).join(', ');
        await this.writeStatus(rp, {
          phase: 'Pending',
          conditions: notReady(
            rp,
            'AmbiguousVMName',
            `${named.length} VMs are named ${rp.spec.vm.name} (${ids}); create the recovery point with spec.vm.id`,
            now,
          ),
        });
        return { requeueAfterMs: 60_000 };
      }
    }
    const vmObject = vmId ? informers.vms.peek(vmId) : undefined;
    const vm: PlacementVM | undefined = vmObject?.status?.host
      ? {
          host: vmObject.status.host,
          volumes: [...new Set((vmObject.status.disks ?? []).map((d) => volumeOf(d.path ?? '')))],
        }
      : undefined;
    const hosts = new Map<string, PlacementHost>(
      informers.hosts.list().map((h) => [
        h.metadata.name,
        {
          ...(h.status?.heartbeatTime ? { heartbeat: new Date(h.status.heartbeatTime) } : {}),
          unschedulable: h.spec?.unschedulable === true,
        },
      ]),
    );
    const policy = rp.spec.protection
      ? informers.protections.peek(`${rp.metadata.namespace ?? ''}/${rp.spec.protection}`)
      : undefined;
    const limits = { ...defaultLimits, ...policy?.spec.concurrency };
    const decision = place(
      {
        key,
        vmId: vmId ?? rp.spec.vm.name ?? '',
        phase: rp.status?.phase ?? 'Pending',
        ...(rp.metadata.labels?.[labels.node] ? { node: rp.metadata.labels[labels.node] } : {}),
        waitingSince: waitingSince(rp, now),
        ...(rp.spec.consistencyGroup ? { group: rp.spec.consistencyGroup } : {}),
      },
      vm,
      hosts,
      this.activeBackups(),
      limits,
      now,
    );

    switch (decision.action) {
      case 'none':
        return undefined;
      case 'assign': {
        // Held before the write: workers place points side by side, and another pass that ran
        // during the round trip must count this slot as taken.
        this.recentlyAssigned.set(key, {
          key,
          node: decision.node,
          volumes: vm?.volumes ?? [],
          ...(rp.spec.consistencyGroup ? { group: rp.spec.consistencyGroup } : {}),
        });
        let assigned: RecoveryPoint;
        try {
          assigned = await clients.recoveryPoints.mergePatch(rp.metadata.name, rp.metadata.namespace, {
            metadata: {
              resourceVersion: rp.metadata.resourceVersion,
              labels: { [labels.node]: decision.node },
            },
          });
        } catch (err) {
          this.recentlyAssigned.delete(key);
          throw err;
        }
        await this.writeStatus(assigned, {
          phase: 'Pending',
          nodeName: decision.node,
          conditions: notReady(rp, 'Scheduled', `assigned to the agent on ${decision.node}`, now),
        });
        return undefined;
      }
      case 'wait':
        await this.writeStatus(rp, {
          phase: 'Pending',
          conditions: notReady(rp, decision.reason, decision.message, now),
        });
        return { requeueAfterMs: decision.retryAfterMs };
      case 'fail':
        await this.writeStatus(rp, failedStatus(rp, decision.reason, decision.message, now));
        await this.deps.events.record(rp, 'Warning', decision.reason, decision.message);
        return undefined;
    }
  }

  /** Writes the controller's part of a recovery point's status, only when it changes something. */
  private async writeStatus(rp: RecoveryPoint, part: RecoveryPointStatus): Promise<void> {
    const current = rp.status ?? {};
    const changed = (Object.keys(part) as (keyof RecoveryPointStatus)[]).some(
      (k) => JSON.stringify(current[k]) !== JSON.stringify(part[k]),
    );
    if (changed) {
      await this.deps.clients.recoveryPoints.applyStatus(
        rp.metadata.name,
        rp.metadata.namespace,
        part,
        fieldManager,
      );
    }
  }

  private async reconcileDelete(rp: RecoveryPoint, deletionTimestamp: string): Promise<ReconcileResult> {
    if (!(rp.metadata.finalizers ?? []).includes(finalizers.recoveryPointData)) {
      return undefined;
    }
    const { clients, clock, events, logger } = this.deps;
    if (inFlight(rp) && rp.metadata.labels?.[labels.node]) {
      // The agent stops the backup when it sees the deletion; its data is removed afterwards.
      const age = clock.now().getTime() - new Date(deletionTimestamp).getTime();
      if (age < 300_000) {
        return { requeueAfterMs: 5000 };
      }
    }
    try {
      await this.deps.data.remove(rp);
    } catch (err) {
      const waited = clock.now().getTime() - new Date(deletionTimestamp).getTime();
      if (waited < dataCleanupGiveUpMs) {
        throw err;
      }
      await events.record(
        rp,
        'Warning',
        'DataLeftBehind',
        `could not remove this recovery point's data for ${Math.round(waited / 60_000)} minutes (${String(err)}); removing the object anyway; run 'shadowkeep repo gc' on its repository later`,
      );
      logger.warn('gave up removing recovery point data', {
        namespace: rp.metadata.namespace,
        name: rp.metadata.name,
        error: String(err),
      });
    }
    await clients.recoveryPoints.mergePatch(rp.metadata.name, rp.metadata.namespace, {
      metadata: {
        resourceVersion: rp.metadata.resourceVersion,
        finalizers: (rp.metadata.finalizers ?? []).filter((f) => f !== finalizers.recoveryPointData),
      },
    });
    return undefined;
  }
}

/**
 * When a point began waiting: the transition of its Ready condition to False, which this
 * controller stamped with its own clock; a point with no wait on record starts waiting now.
 */
function waitingSince(rp: RecoveryPoint, now: Date): Date {
  const ready = rp.status?.conditions?.find((c) => c.type === 'Ready');
  return ready?.status === 'False' ? new Date(ready.lastTransitionTime) : now;
}

/** The volume a disk lives on: a CSV, an SMB share, or a drive (per-volume limits count by this). */
export function volumeOf(path: string): string {
  const csv = /^([a-z]:\\ClusterStorage\\[^\\]+)/i.exec(path)?.[1];
  if (csv) {
    return csv.toLowerCase();
  }
  const share = /^(\\\\[^\\]+\\[^\\]+)/.exec(path)?.[1];
  if (share) {
    return share.toLowerCase();
  }
  const drive = /^([a-z]:)/i.exec(path)?.[1];
  if (drive) {
    return drive.toLowerCase();
  }
  // Linux paths (the filehost simulator): the first two segments stand for the volume.
  return path.split('/').slice(0, 3).join('/');
}
