import {
  finalizers,
  labels,
  toLabelValue,
  type RecoveryPoint,
  type VirtualMachineProtection,
  type VirtualMachineProtectionStatus,
} from '../api/index.js';
import type { Logger } from '../common/log.js';
import type { EventRecorder } from '../kube/events.js';
import { splitKey } from '../kube/objects.js';
import { isConflict } from '../kube/rest.js';
import type { Clock } from '../runtime/clock.js';
import { findCondition, mergeConditions, sameStatus } from '../runtime/conditions.js';
import type { Reconciler } from '../runtime/controller.js';
import type { ReconcileResult } from '../runtime/workqueue.js';
import type { Clients, Informers } from '../manager/world.js';
import { pointInputs, policyInput, selectedVMs } from './inputs.js';
import { planProtection, type PointToCreate } from './plan.js';

export const fieldManager = 'shadowkeep-controller';
/**
 * Creates of one tick in flight at once. The API server serves requests side by side, so the
 * share of its time the creates get grows with their number while agents write progress in
 * parallel; 32 stays far below its default limit of 200 mutating requests in flight.
 */
const createsInFlight = 32;

export interface ProtectionDeps {
  clients: Clients;
  informers: Informers;
  clock: Clock;
  logger: Logger;
  events: EventRecorder;
  controllerNamespace: string;
}

/**
 * Converges a VirtualMachineProtection: recovery points for the current schedule slot, retention,
 * and a status that says what is protected and what is not. Reads the caches, plans with a pure
 * function, writes what the plan says, and writes status once, only when it changed.
 */
/** Runs `work` on every item, at most `width` at once. */
async function inBatches<T>(
  items: readonly T[],
  width: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
}

export class ProtectionReconciler implements Reconciler {
  readonly name = 'protection';
  /** Passes creating a tick's points right now (placement waits for them: see creatingPoints). */
  private creating = 0;

  /**
   * Whether a tick's points are being created. Creates, placement and the agents' first writes
   * all wait on the same API server: placing while creating made the last create of 2,000 come
   * three to five times later, so placement holds back until the whole tick exists.
   */
  readonly creatingPoints = (): boolean => this.creating > 0;

  constructor(private readonly deps: ProtectionDeps) {}

  async reconcile(key: string): Promise<ReconcileResult> {
    const { informers, clients, clock } = this.deps;
    const policy = informers.protections.get(key);
    if (!policy) {
      return undefined;
    }
    const { namespace = '', name } = splitKey(key);
    const wantsFinalizer = policy.spec.deletionPolicy === 'Delete';
    if (policy.metadata.deletionTimestamp) {
      return this.reconcileDelete(policy);
    }
    if (wantsFinalizer !== (policy.metadata.finalizers ?? []).includes(finalizers.protectionPoints)) {
      await this.setFinalizer(policy, wantsFinalizer);
      return undefined;
    }

    const now = clock.now();
    const ownPoints = informers.recoveryPoints
      .withLabel(labels.protection, name)
      .filter((rp) => rp.metadata.namespace === namespace);
    const vms = selectedVMs(
      policy,
      informers.vms.list(),
      informers.protections.list(),
      this.deps.controllerNamespace,
    );
    const plan = planProtection(
      policyInput(
        policy,
        informers.repositories.peek(`${namespace}/${policy.spec.repository}`) !== undefined,
        now,
      ),
      vms,
      pointInputs(ownPoints, informers.recoveryPoints.list(), informers.restores.list()),
      now,
    );

    // One schedule tick creates a point per VM: send them in parallel, a bounded number at a time.
    this.creating++;
    try {
      await inBatches(plan.create, createsInFlight, (point) => this.createPoint(policy, point));
    } finally {
      this.creating--;
    }
    for (const doomed of plan.delete) {
      if (await clients.recoveryPoints.delete(doomed.name, namespace)) {
        await this.deps.events.record(
          policy,
          'Normal',
          'RecoveryPointExpired',
          `deleted ${doomed.name}: ${doomed.why}`,
        );
      }
    }

    const status: VirtualMachineProtectionStatus = {
      observedGeneration: policy.metadata.generation ?? 0,
      conditions: mergeConditions(policy.status?.conditions, plan.conditions, now),
      vms: plan.rows,
      ...(plan.lastRecoveryPointTime
        ? { lastRecoveryPointTime: plan.lastRecoveryPointTime.toISOString() }
        : {}),
      ...(plan.nextRunTime ? { nextRunTime: plan.nextRunTime.toISOString() } : {}),
      selectedVMs: plan.rows.length,
      protectedVMs: plan.rows.filter((r) => r.mode === 'Online' || r.mode === 'SavedState').length,
      recoveryPoints: ownPoints.filter((p) => p.status?.phase === 'Completed').length,
    };
    if (!sameStatus(policy.status, status)) {
      await clients.protections.applyStatus(name, namespace, status, fieldManager);
      await this.announceFlips(policy, status);
    }
    return { requeueAfterMs: plan.requeueAfterMs };
  }

  private async createPoint(policy: VirtualMachineProtection, point: PointToCreate): Promise<void> {
    const { namespace = '', name } = policy.metadata;
    const spec = policy.spec;
    // Labels are ours alone: copying the policy's labels would make GitOps tools prune the points.
    const rp: RecoveryPoint = {
      apiVersion: 'shadowkeep.io/v1alpha1',
      kind: 'RecoveryPoint',
      metadata: {
        name: point.name,
        namespace,
        labels: {
          [labels.protection]: name,
          [labels.vm]: toLabelValue(point.vm.name),
          [labels.vmId]: point.vm.id,
          ...(spec.consistencyGroup
            ? { [labels.consistencyGroup]: `${name}-${point.scheduledTime.getTime() / 1000}` }
            : {}),
        },
        finalizers: [finalizers.recoveryPointData],
      },
      spec: {
        protection: name,
        vm: { name: point.vm.name, id: point.vm.id },
        repository: spec.repository,
        requestedMode: spec.backupMode ?? 'OnlineOrSavedState',
        ...(spec.maxDowntime ? { maxDowntime: spec.maxDowntime } : {}),
        ...(spec.consistencyGroup
          ? { consistencyGroup: `${name}-${point.scheduledTime.getTime() / 1000}` }
          : {}),
        scheduledTime: point.scheduledTime.toISOString(),
      },
    };
    try {
      await this.deps.clients.recoveryPoints.create(rp);
      this.deps.logger.info('created recovery point', {
        namespace,
        name: point.name,
        policy: name,
        attempt: point.attempt,
      });
    } catch (err) {
      // Created already by an earlier pass or another replica: names are deterministic.
      if (!isConflict(err)) {
        throw err;
      }
    }
  }

  private async announceFlips(
    policy: VirtualMachineProtection,
    status: VirtualMachineProtectionStatus,
  ): Promise<void> {
    for (const cond of status.conditions ?? []) {
      const before = findCondition(policy.status?.conditions, cond.type);
      if (before?.status === cond.status && before.reason === cond.reason) {
        continue;
      }
      const bad =
        (cond.type === 'Ready' || cond.type === 'RPOMet' || cond.type === 'OffsiteInSync') &&
        cond.status === 'False';
      await this.deps.events.record(
        policy,
        bad ? 'Warning' : 'Normal',
        cond.reason,
        `${cond.type}=${cond.status}: ${cond.message}`,
      );
    }
  }

  private async setFinalizer(policy: VirtualMachineProtection, present: boolean): Promise<void> {
    const others = (policy.metadata.finalizers ?? []).filter((f) => f !== finalizers.protectionPoints);
    await this.deps.clients.protections.mergePatch(policy.metadata.name, policy.metadata.namespace, {
      metadata: {
        resourceVersion: policy.metadata.resourceVersion,
        finalizers: present ? [...others, finalizers.protectionPoints] : others,
      },
    });
  }

  /** deletionPolicy Delete: remove the policy's recovery points (their finalizers remove the data), then let go. */
  private async reconcileDelete(policy: VirtualMachineProtection): Promise<ReconcileResult> {
    if (!(policy.metadata.finalizers ?? []).includes(finalizers.protectionPoints)) {
      return undefined;
    }
    const namespace = policy.metadata.namespace ?? '';
    const points = this.deps.informers.recoveryPoints
      .withLabel(labels.protection, policy.metadata.name)
      .filter((rp) => rp.metadata.namespace === namespace);
    for (const rp of points.filter((p) => !p.metadata.deletionTimestamp)) {
      await this.deps.clients.recoveryPoints.delete(rp.metadata.name, namespace);
    }
    if (points.length > 0) {
      return { requeueAfterMs: 5000 };
    }
    await this.setFinalizer(policy, false);
    return undefined;
  }
}
