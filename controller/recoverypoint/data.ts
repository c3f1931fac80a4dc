import type { RecoveryPoint } from '../api/index.js';
import type { Informers } from '../manager/world.js';
import type { KubeRest } from '../kube/rest.js';
import { openRepository } from '../repositories/access.js';

/** Removes a recovery point's data from the repositories that hold it. */
export interface RecoveryPointData {
  remove(rp: RecoveryPoint): Promise<void>;
}

/**
 * Deletes the recovery point's disk manifests from its repository; chunks no other manifest uses
 * are reclaimed by the repository's garbage collection, never here (other points share them).
 */
export class RepositoryRecoveryPointData implements RecoveryPointData {
  constructor(
    private readonly rest: KubeRest,
    private readonly informers: Informers,
  ) {}

  async remove(rp: RecoveryPoint): Promise<void> {
    const manifests = (rp.status?.disks ?? []).map((d) => d.manifest).filter((m): m is string => Boolean(m));
    const repositoryName = rp.status?.repository ?? rp.spec.repository;
    if (manifests.length === 0 || !repositoryName) {
      return;
    }
    const repoObject = this.informers.repositories.get(`${rp.metadata.namespace ?? ''}/${repositoryName}`);
    if (!repoObject) {
      // The repository object is gone: nothing here can reach its data any more.
      return;
    }
    const repo = await openRepository(this.rest, repoObject);
    // Idempotent: a retry after a partial removal skips manifests already gone.
    const stored = new Set(await repo.listManifestIds());
    for (const id of manifests.filter((m) => stored.has(m))) {
      await repo.deleteManifest(id);
    }
  }
}
