import {
  labels,
  type RecoveryPoint,
  type RecoveryPointCopy,
  type VirtualMachineProtectionOffsite,
} from '../api/index.js';
import { planOffsiteRetention } from '../policy/offsite-retention.js';
import { manifestsOf, removeManifests } from '../recoverypoint/data.js';
import { parseDuration } from '../common/duration.js';
import type { Logger } from '../common/log.js';
import type { EventRecorder } from '../kube/events.js';
import type { KubeRest } from '../kube/rest.js';
import type { Clients, Informers } from '../manager/world.js';
import { openRepository } from '../repositories/access.js';
import type { Clock } from '../runtime/clock.js';
import type { Reconciler } from '../runtime/controller.js';
import type { ReconcileResult } from '../runtime/workqueue.js';
import { copyManifests } from './copy-point.js';

export const fieldManager = 'shadowkeep-copier';

/**
 * Writes status.copies one entry at a time. Server-side apply drops entries a manager owned but
 * left out of its next apply, so every write carries the whole list as last written.
 */
class CopiesWriter {
  private copies: RecoveryPointCopy[];

  constructor(
    rp: RecoveryPoint,
    private readonly apply: (status: { copies: RecoveryPointCopy[] }) => Promise<RecoveryPoint>,
  ) {
    this.copies = rp.status?.copies ?? [];
  }

  async write(copy: RecoveryPointCopy): Promise<void> {
    const copies = [...this.copies.filter((c) => c.repository !== copy.repository), copy];
    const written = await this.apply({ copies });
    this.copies = written.status?.copies ?? copies;
  }
}

export interface CopyDeps {
  clients: Clients;
  informers: Informers;
  rest: KubeRest;
  clock: Clock;
  logger: Logger;
  events: EventRecorder;
  /** Bandwidth limit per copy, bytes per second; unlimited when unset. */
  bytesPerSecond?: number;
  /** How often a running copy writes its progress (copiedBytes). */
  progressIntervalMs?: number;
}

/** The offsite repositories a completed recovery point still has to reach, in the policy's order. */
export function pendingTargets(rp: RecoveryPoint, offsite: readonly { repository: string }[]): string[] {
  const done = new Set(
    (rp.status?.copies ?? [])
      .filter((c) => c.phase === 'Completed' || c.phase === 'Expired')
      .map((c) => c.repository),
  );
  return offsite.map((o) => o.repository).filter((r) => !done.has(r));
}

/**
 * Copies every completed recovery point of a policy with offsite targets to each target and
 * records the verified copy in status.copies. Runs in the controller's leader, in its own work
 * queue, reading the primary repository (never the Hyper-V host). Restart-safe: a copy in
 * progress when the process died shows Copying and is simply done again, sending only what the
 * target still lacks.
 */
export class CopyReconciler implements Reconciler {
  readonly name = 'copies';

  constructor(private readonly deps: CopyDeps) {}

  async reconcile(key: string): Promise<ReconcileResult> {
    const { informers } = this.deps;
    const rp = informers.recoveryPoints.get(key);
    if (!rp || rp.metadata.deletionTimestamp || rp.status?.phase !== 'Completed') {
      return undefined;
    }
    const namespace = rp.metadata.namespace ?? '';
    const policyName = rp.metadata.labels?.[labels.protection] ?? rp.spec.protection;
    const policy = policyName ? informers.protections.peek(`${namespace}/${policyName}`) : undefined;
    const offsite = policy?.spec.offsite ?? [];
    const copies = new CopiesWriter(rp, (status) =>
      this.deps.clients.recoveryPoints.applyStatus(rp.metadata.name, namespace, status, fieldManager),
    );
    for (const target of pendingTargets(rp, offsite)) {
      const spec = offsite.find((o) => o.repository === target);
      await this.copyTo(rp, target, spec?.immutableFor, copies);
    }
    for (const target of offsite) {
      if (this.expiredIn(rp, target)) {
        await this.expire(rp, target.repository, copies);
      }
    }
    return undefined;
  }

  /** Whether the target's own retention rules no longer keep this point's copy there. */
  private expiredIn(rp: RecoveryPoint, target: VirtualMachineProtectionOffsite): boolean {
    const copyOf = (p: RecoveryPoint): RecoveryPointCopy | undefined =>
      p.status?.copies?.find((c) => c.repository === target.repository);
    if (copyOf(rp)?.phase !== 'Completed') {
      return false;
    }
    const vmId = rp.metadata.labels?.[labels.vmId];
    const policy = rp.metadata.labels?.[labels.protection];
    const points = this.deps.informers.recoveryPoints;
    const siblings = (vmId === undefined ? points.list() : points.withLabel(labels.vmId, vmId)).filter(
      (p) =>
        p.metadata.namespace === rp.metadata.namespace &&
        p.metadata.labels?.[labels.vmId] === vmId &&
        p.metadata.labels?.[labels.protection] === policy &&
        p.status?.phase === 'Completed' &&
        !p.metadata.deletionTimestamp,
    );
    const decision = planOffsiteRetention(
      siblings.map((p) => {
        const copy = copyOf(p);
        return {
          name: p.metadata.name,
          time: new Date(p.status?.pointInTime ?? p.status?.completionTime ?? 0),
          state: 'Completed' as const,
          ...(copy ? { copy: copy.phase } : {}),
          ...(copy?.immutableUntil ? { lockedUntil: new Date(copy.immutableUntil) } : {}),
        };
      }),
      target.retention,
      this.deps.clock.now(),
    );
    return decision.expire.includes(rp.metadata.name);
  }

  /** Removes the point's manifests from the target (its chunks go at the target's next GC). */
  private async expire(rp: RecoveryPoint, target: string, copies: CopiesWriter): Promise<void> {
    const { informers, rest, events } = this.deps;
    const namespace = rp.metadata.namespace ?? '';
    const targetObject = informers.repositories.get(`${namespace}/${target}`);
    if (targetObject) {
      await removeManifests(await openRepository(rest, targetObject), manifestsOf(rp));
    }
    await copies.write({ repository: target, phase: 'Expired' });
    await events.record(
      rp,
      'Normal',
      'CopyExpired',
      `the copy in ${target} expired by its offsite retention rules`,
    );
  }

  private async copyTo(
    rp: RecoveryPoint,
    target: string,
    immutableFor: string | undefined,
    copies: CopiesWriter,
  ): Promise<void> {
    const { informers, rest, clock, events, logger } = this.deps;
    const namespace = rp.metadata.namespace ?? '';
    const write = (copy: RecoveryPointCopy): Promise<void> => copies.write(copy);
    const manifests = manifestsOf(rp);
    const primaryName = rp.status?.repository ?? rp.spec.repository ?? '';
    const primaryObject = informers.repositories.get(`${namespace}/${primaryName}`);
    const targetObject = informers.repositories.get(`${namespace}/${target}`);
    try {
      if (!primaryObject || !targetObject) {
        throw new Error(
          `BackupRepository ${namespace}/${primaryObject ? target : primaryName} does not exist; create it or fix the policy's offsite list`,
        );
      }
      const source = await openRepository(rest, primaryObject);
      const twin = await openRepository(rest, targetObject, { twinOf: source });
      await write({ repository: target, phase: 'Copying', copiedBytes: 0 });
      const retainUntil = immutableFor
        ? new Date(clock.now().getTime() + parseDuration(immutableFor))
        : undefined;
      let lastProgress = clock.now().getTime();
      // Progress writes run one after another and finish before the final one, which they must not overtake.
      let progressWrite = Promise.resolve();
      const report = await copyManifests(source, twin, manifests, {
        ...(retainUntil ? { retainUntil } : {}),
        ...(this.deps.bytesPerSecond ? { bytesPerSecond: this.deps.bytesPerSecond } : {}),
        onProgress: (p) => {
          const t = clock.now().getTime();
          if (t - lastProgress >= (this.deps.progressIntervalMs ?? 5000)) {
            lastProgress = t;
            const bytes = p.bytesSent;
            progressWrite = progressWrite
              .then(() => write({ repository: target, phase: 'Copying', copiedBytes: bytes }))
              .then(
                () => undefined,
                () => undefined,
              );
          }
        },
      });
      await progressWrite;
      await write({
        repository: target,
        phase: 'Completed',
        copiedBytes: report.bytesSent,
        completionTime: clock.now().toISOString(),
        ...(retainUntil ? { immutableUntil: retainUntil.toISOString() } : {}),
      });
      logger.info('offsite copy completed', {
        recoveryPoint: `${namespace}/${rp.metadata.name}`,
        repository: target,
        bytesSent: report.bytesSent,
        chunksCopied: report.chunksCopied,
        chunksPresent: report.chunksPresent,
      });
      await events.record(
        rp,
        'Normal',
        'CopyCompleted',
        `copied to ${target}: ${report.chunksCopied} new chunks (${report.bytesSent} bytes sent), ${report.chunksPresent} already there`,
      );
    } catch (err) {
      const message = `copy to ${target} failed: ${err instanceof Error ? err.message : String(err)}; it is retried`;
      await write({ repository: target, phase: 'Failed', message: message.slice(0, 1024) });
      await events.record(rp, 'Warning', 'CopyFailed', message);
      throw err;
    }
  }
}
