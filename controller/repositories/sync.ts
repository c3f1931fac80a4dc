/**
 * Disaster recovery of Shadowkeep itself: recreates the RecoveryPoint objects of every recovery
 * point a repository holds and the cluster does not, from the records stored beside their
 * manifests. Restores then work in a cluster that has nothing but the repository.
 */
import { annotations, type BackupRepository, type RecoveryPoint } from '../api/index.js';
import type { ResourceClient } from '../kube/client.js';
import { isConflict } from '../kube/rest.js';
import {
  decodeRecord,
  recoveryPointRecordCatalog,
  type RecoveryPointRecord,
} from '../recoverypoint/record.js';
import type { Repository } from '../repository/repository.js';

export const syncFieldManager = 'shadowkeep-controller';

/** The records of the recovery points the repository holds, one per name, oldest first. */
export async function storedRecoveryPoints(repo: Repository): Promise<RecoveryPointRecord[]> {
  const records = new Map<string, RecoveryPointRecord>();
  for (const id of await repo.listManifestIds()) {
    const data = await repo.getCatalog(id, recoveryPointRecordCatalog);
    if (data) {
      const record = decodeRecord(data, `the recovery point record of manifest ${id}`);
      records.set(record.name, record);
    }
  }
  return [...records.values()];
}

/**
 * Creates the missing RecoveryPoints in the BackupRepository's namespace, each pointing at this
 * repository (where the data is now), with its status as recorded. Returns the names created.
 */
export async function importRecoveryPoints(
  repoObject: BackupRepository,
  repo: Repository,
  points: ResourceClient<RecoveryPoint>,
  existing: ReadonlySet<string>,
  now: Date,
): Promise<string[]> {
  const namespace = repoObject.metadata.namespace ?? 'default';
  const repository = repoObject.metadata.name;
  const created: string[] = [];
  for (const record of await storedRecoveryPoints(repo)) {
    if (existing.has(record.name)) {
      continue;
    }
    let rp: RecoveryPoint;
    try {
      rp = await points.create({
        apiVersion: 'shadowkeep.io/v1alpha1',
        kind: 'RecoveryPoint',
        metadata: {
          name: record.name,
          namespace,
          labels: record.labels,
          annotations: { [annotations.importedFrom]: repository },
        },
        spec: { ...record.spec, repository },
      });
    } catch (err) {
      // Created meanwhile (by a previous pass the cache has not shown yet): nothing to do.
      if (isConflict(err)) {
        continue;
      }
      throw err;
    }
    await points.applyStatus(
      record.name,
      namespace,
      {
        ...record.status,
        phase: 'Completed',
        repository,
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'Imported',
            message: `rebuilt from the record in BackupRepository ${repository}`,
            lastTransitionTime: now.toISOString(),
            observedGeneration: rp.metadata.generation ?? 1,
          },
        ],
      },
      syncFieldManager,
    );
    created.push(record.name);
  }
  return created;
}
