import type { BackupRepository, BackupRepositoryStatus } from '../api/index.js';
import type { Repository } from '../repository/repository.js';
import { importRecoveryPoints } from './sync.js';
import type { KubeRest } from '../kube/rest.js';
import { splitKey } from '../kube/objects.js';
import type { Clock } from '../runtime/clock.js';
import { mergeConditions, sameStatus } from '../runtime/conditions.js';
import type { Reconciler } from '../runtime/controller.js';
import type { ReconcileResult } from '../runtime/workqueue.js';
import type { Clients, Informers } from '../manager/world.js';
import type { EventRecorder } from '../kube/events.js';
import { openRepository, RepositoryAccessError } from './access.js';

const fieldManager = 'shadowkeep-controller';
const recheckMs = 300_000;

/**
 * Keeps a BackupRepository's status true: checks every few minutes that it opens with its key, and
 * says why not when it does not. It never creates one: empty storage waits for its first writer,
 * which knows whether it is a primary repository (a backup) or an offsite twin (a copy).
 */
export class RepositoryReconciler implements Reconciler {
  readonly name = 'repository';

  constructor(
    private readonly deps: {
      rest: KubeRest;
      clients: Clients;
      informers: Informers;
      clock: Clock;
      events: EventRecorder;
    },
  ) {}

  async reconcile(key: string): Promise<ReconcileResult> {
    const { informers, clients, clock, rest } = this.deps;
    const repoObject = informers.repositories.get(key);
    if (!repoObject) {
      return undefined;
    }
    const { namespace, name } = splitKey(key);
    const now = clock.now();
    const generation = repoObject.metadata.generation ?? 1;
    const withReady = (
      phase: 'Available' | 'Unavailable',
      ready: { status: 'True' | 'False'; reason: string; message: string },
      extra: Partial<BackupRepositoryStatus> = {},
    ): BackupRepositoryStatus => ({
      observedGeneration: generation,
      phase,
      ...extra,
      conditions: mergeConditions(
        repoObject.status?.conditions,
        [{ type: 'Ready', ...ready, observedGeneration: generation }],
        now,
      ),
    });
    let status: BackupRepositoryStatus;
    try {
      const repo = await openRepository(rest, repoObject);
      const points = informers.recoveryPoints.list(
        (rp) =>
          rp.metadata.namespace === namespace &&
          (rp.status?.repository ?? rp.spec.repository) === name &&
          rp.status?.phase === 'Completed',
      );
      if (repoObject.spec.syncRecoveryPoints) {
        await this.importMissing(repoObject, repo, now);
      }
      status = withReady(
        'Available',
        { status: 'True', reason: 'Available', message: `repository ${repo.config.id} opens with its key` },
        { id: repo.config.id, recoveryPoints: points.length },
      );
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      status =
        err instanceof RepositoryAccessError && err.reason === 'Empty'
          ? withReady('Available', { status: 'True', reason: 'Empty', message }, { recoveryPoints: 0 })
          : withReady('Unavailable', {
              status: 'False',
              reason: err instanceof RepositoryAccessError ? err.reason : 'StorageUnavailable',
              message,
            });
    }
    const comparable = { ...repoObject.status, lastCheckTime: undefined };
    if (!sameStatus(comparable, status)) {
      if (repoObject.status?.phase !== status.phase) {
        const ready = status.conditions?.[0];
        await this.deps.events.record(
          repoObject,
          status.phase === 'Available' ? 'Normal' : 'Warning',
          ready?.reason ?? 'Checked',
          ready?.message ?? '',
        );
      }
      await clients.repositories.applyStatus(
        name,
        namespace,
        { ...status, lastCheckTime: now.toISOString() },
        fieldManager,
      );
    }
    return { requeueAfterMs: recheckMs };
  }

  private async importMissing(repoObject: BackupRepository, repo: Repository, now: Date): Promise<void> {
    const { informers, clients, events } = this.deps;
    const namespace = repoObject.metadata.namespace;
    const existing = new Set(
      informers.recoveryPoints
        .list((rp) => rp.metadata.namespace === namespace)
        .map((rp) => rp.metadata.name),
    );
    const created = await importRecoveryPoints(repoObject, repo, clients.recoveryPoints, existing, now);
    if (created.length > 0) {
      await events.record(
        repoObject,
        'Normal',
        'RecoveryPointsImported',
        `rebuilt ${created.length} RecoveryPoints from the repository: ${created.slice(0, 10).join(', ')}${created.length > 10 ? ', ...' : ''}`,
      );
    }
  }
}
