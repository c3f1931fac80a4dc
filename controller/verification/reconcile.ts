import {
  annotations,
  conditionTypes,
  vmIdOf,
  type BackupRepository,
  type RecoveryPoint,
  type VirtualMachineProtectionVerification,
} from '../api/index.js';
import type { Logger } from '../common/log.js';
import type { EventRecorder } from '../kube/events.js';
import type { Clients, Informers } from '../manager/world.js';
import type { Repository } from '../repository/repository.js';
import type { Clock } from '../runtime/clock.js';
import { mergeConditions } from '../runtime/conditions.js';
import { healFromCopy } from '../copy/heal.js';
import { isConflict } from '../kube/rest.js';
import type { Reconciler } from '../runtime/controller.js';
import type { ReconcileResult } from '../runtime/workqueue.js';
import { bootTestName, bootTestOutcome, bootTestRestore } from './boot-test.js';
import { verificationDue, type VerifiablePoint, type VerificationPolicy } from './due.js';
import { verifyRecoveryPoint, type VerificationLevel, type VerificationOutcome } from './verify.js';

/** Its own field manager: the Verified condition and status.verification are this reconciler's alone. */
const fieldManager = 'shadowkeep-verification';
const levels = new Set<string>(['Checksums', 'Filesystem', 'Boot']);

const dateOf = (text: string | undefined): Date | undefined => {
  const date = text ? new Date(text) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date : undefined;
};

export function verifiable(rp: RecoveryPoint): VerifiablePoint {
  const level = rp.metadata.annotations?.[annotations.verifyLevel];
  const request = rp.metadata.annotations?.[annotations.verifyRequested];
  const answered = rp.status?.verification?.request;
  const pointInTime = dateOf(rp.status?.pointInTime);
  const verifiedAt = dateOf(rp.status?.verification?.time);
  return {
    name: rp.metadata.name,
    completed: rp.status?.phase === 'Completed' && !rp.metadata.deletionTimestamp,
    ...(pointInTime ? { pointInTime } : {}),
    ...(verifiedAt ? { verifiedAt } : {}),
    ...(request ? { request } : {}),
    ...(answered ? { answered } : {}),
    ...(level && levels.has(level) ? { requestedLevel: level as VerificationLevel } : {}),
  };
}

/**
 * Proof of recoverability: verifies a completed recovery point when its policy's
 * spec.verification schedule says so (the newest point of each VM, once per slot) or when someone
 * asked (annotation shadowkeep.io/verify-requested), and records the result in
 * status.verification, the point's Verified condition and an Event. The policy's own Verified
 * condition is summarized from these by the protection reconciler.
 */
export class VerificationReconciler implements Reconciler {
  readonly name = 'verification';

  constructor(
    private readonly deps: {
      clients: Clients;
      informers: Informers;
      clock: Clock;
      events: EventRecorder;
      logger: Logger;
      openRepository: (repo: BackupRepository) => Promise<Repository>;
    },
  ) {}

  async reconcile(key: string): Promise<ReconcileResult> {
    const { informers, clock } = this.deps;
    const rp = informers.recoveryPoints.get(key);
    if (!rp) {
      return undefined;
    }
    const namespace = rp.metadata.namespace ?? '';
    const policy = rp.spec.protection
      ? informers.protections.peek(`${namespace}/${rp.spec.protection}`)
      : undefined;
    const schedule = policy?.spec.verification;
    const verificationPolicy: VerificationPolicy | undefined = schedule
      ? { schedule: schedule.schedule, level: schedule.level ?? 'Checksums' }
      : undefined;
    const vmId = vmIdOf(rp);
    const siblings = verificationPolicy
      ? informers.recoveryPoints.list(
          (p) =>
            p.metadata.namespace === namespace &&
            p.spec.protection === rp.spec.protection &&
            vmIdOf(p) === vmId,
        )
      : [rp];
    const now = clock.now();
    let decision;
    try {
      decision = verificationDue(verifiable(rp), siblings.map(verifiable), verificationPolicy, now);
    } catch (err) {
      // An unparsable verification schedule: the policy's Verified condition reports it.
      this.deps.logger.debug('verification schedule unusable', { key, error: String(err) });
      return undefined;
    }
    if (!decision.verify) {
      // Timers cannot wait a year (a yearly slot); a look every hour is cheap and level-based.
      return decision.wakeAt
        ? { requeueAfterMs: Math.min(3_600_000, Math.max(1000, decision.wakeAt.getTime() - now.getTime())) }
        : undefined;
    }
    const request =
      decision.why === 'Requested' ? rp.metadata.annotations?.[annotations.verifyRequested] : undefined;
    if (decision.level !== 'Boot') {
      await this.record(rp, await this.verify(rp, decision.level), request);
      return undefined;
    }
    const test = informers.restores.get(`${namespace}/${bootTestName(rp, decision.occasion)}`);
    if (test) {
      const outcome = bootTestOutcome(test);
      if (!outcome) {
        return { requeueAfterMs: 60_000 }; // its status changes wake this reconciler sooner
      }
      await this.record(rp, outcome, request);
      return undefined;
    }
    // A point whose data or file systems fail would not boot either: no test VM for it.
    const before = await this.verify(rp, 'Filesystem');
    if (before.result === 'Failed') {
      await this.record(rp, before, request);
      return undefined;
    }
    await this.startBootTest(rp, decision.occasion, schedule, before.message);
    return { requeueAfterMs: 60_000 };
  }

  private async startBootTest(
    rp: RecoveryPoint,
    occasion: string,
    settings: VirtualMachineProtectionVerification | undefined,
    verifiedBefore: string,
  ): Promise<void> {
    const test = bootTestRestore(rp, occasion, settings, verifiedBefore);
    try {
      await this.deps.clients.restores.create(test);
    } catch (err) {
      if (!isConflict(err)) {
        throw err;
      }
      return;
    }
    await this.deps.events.record(
      rp,
      'Normal',
      'BootTestStarted',
      `chunks and file systems verified; VirtualMachineRestore ${test.metadata.name} now starts this point as a test VM on an isolated switch`,
    );
  }

  private async verify(rp: RecoveryPoint, level: VerificationLevel): Promise<VerificationOutcome> {
    const namespace = rp.metadata.namespace ?? '';
    const repositoryName = rp.status?.repository ?? rp.spec.repository ?? '';
    const repoObject = this.deps.informers.repositories.get(`${namespace}/${repositoryName}`);
    const fail = (message: string): VerificationOutcome => ({
      level,
      result: 'Failed',
      reason: 'NoData',
      message,
      bytesVerified: 0,
    });
    if (!repoObject) {
      return fail(`BackupRepository ${namespace}/${repositoryName} that holds this point does not exist`);
    }
    let repo: Repository;
    try {
      repo = await this.deps.openRepository(repoObject);
    } catch (err) {
      return fail(
        `repository ${repositoryName} cannot be opened: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    const manifests = (rp.status?.disks ?? []).flatMap((d) => (d.manifest ? [d.manifest] : []));
    const outcome = await verifyRecoveryPoint(repo, manifests, level);
    return outcome.reason === 'ChunksDamaged'
      ? this.healAndVerifyAgain(rp, repo, manifests, level, outcome)
      : outcome;
  }

  /** Damaged chunks are re-fetched from the first completed offsite copy, then the point is verified again. */
  private async healAndVerifyAgain(
    rp: RecoveryPoint,
    repo: Repository,
    manifests: string[],
    level: VerificationLevel,
    damaged: VerificationOutcome,
  ): Promise<VerificationOutcome> {
    const namespace = rp.metadata.namespace ?? '';
    const copy = rp.status?.copies?.find((c) => c.phase === 'Completed');
    const copyObject = copy && this.deps.informers.repositories.get(`${namespace}/${copy.repository}`);
    if (!copy || !copyObject) {
      return damaged;
    }
    try {
      const report = await healFromCopy(repo, await this.deps.openRepository(copyObject));
      const again = await verifyRecoveryPoint(repo, manifests, level);
      return {
        ...again,
        message: `healed from the copy in ${copy.repository} (${report.chunksFromCopy} chunks re-fetched, ${report.packsReplaced.length} damaged packs replaced); ${again.message}`,
      };
    } catch (err) {
      return {
        ...damaged,
        message: `${damaged.message}; healing from ${copy.repository} failed: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
  }

  private async record(
    rp: RecoveryPoint,
    outcome: VerificationOutcome,
    request: string | undefined,
  ): Promise<void> {
    const now = this.deps.clock.now();
    const passed = outcome.result === 'Passed';
    const condition = mergeConditions(
      rp.status?.conditions,
      [
        {
          type: conditionTypes.Verified,
          status: passed ? 'True' : 'False',
          reason: outcome.reason,
          message: `${outcome.level}: ${outcome.message}`,
          observedGeneration: rp.metadata.generation ?? 1,
        },
      ],
      now,
    ).filter((c) => c.type === conditionTypes.Verified);
    await this.deps.clients.recoveryPoints.applyStatus(
      rp.metadata.name,
      rp.metadata.namespace,
      {
        verification: {
          time: now.toISOString(),
          level: outcome.level,
          result: outcome.result,
          message: outcome.message.slice(0, 1024),
          ...(request ? { request: request.slice(0, 64) } : {}),
        },
        conditions: condition,
      },
      fieldManager,
    );
    await this.deps.events.record(
      rp,
      passed ? 'Normal' : 'Warning',
      passed ? 'Verified' : 'VerificationFailed',
      `${outcome.level} verification ${passed ? 'passed' : 'failed'}: ${outcome.message}`,
    );
  }
}
