import type { RecoveryPoint } from '../api/index.js';
import type { Informers } from '../manager/world.js';
import type { KubeRest } from '../kube/rest.js';
import { RepositoryAccessError, openRepository } from '../repositories/access.js';
import type { Repository } from '../repository/repository.js';
import { ObjectLockedError } from '../storage/storage.js';

export function manifestsOf(rp: RecoveryPoint): string[] {
  return (rp.status?.disks ?? []).flatMap((d) => (d.manifest ? [d.manifest] : []));
}

/**
 * Deletes manifests from a repository (idempotent: a retry skips those already gone). A manifest
 * under an immutability lock stays, as the lock promises; nothing else can remove it early.
 */
export async function removeManifests(repo: Repository, manifests: readonly string[]): Promise<void> {
  const stored = new Set(await repo.listManifestIds());
  for (const id of manifests.filter((m) => stored.has(m))) {
    try {
      await repo.deleteManifest(id);
    } catch (err) {
      if (!(err instanceof ObjectLockedError)) {
        throw err;
      }
    }
  }
}

/** Removes a recovery point's data from the repositories that hold it. */
export interface RecoveryPointData {
  remove(rp: RecoveryPoint): Promise<void>;
}

/**
 * Deletes the recovery point's disk manifests from its repository and its offsite copies; chunks no other manifest uses
 * are reclaimed by the repository's garbage collection, never here (other points share them).
 */
export class RepositoryRecoveryPointData implements RecoveryPointData {
  constructor(
    private readonly rest: KubeRest,
    private readonly informers: Informers,
  ) {}

  async remove(rp: RecoveryPoint): Promise<void> {
    const manifests = manifestsOf(rp);
    const primary = rp.status?.repository ?? rp.spec.repository;
    const copies = (rp.status?.copies ?? [])
      .filter((c) => c.phase !== 'Expired' && c.phase !== 'Pending')
      .map((c) => c.repository);
    for (const name of [...(primary ? [primary] : []), ...copies]) {
      const repoObject = this.informers.repositories.get(`${rp.metadata.namespace ?? ''}/${name}`);
      // A repository object that is gone leaves nothing here that can reach its data.
      if (manifests.length > 0 && repoObject) {
        try {
          await removeManifests(await openRepository(this.rest, repoObject), manifests);
        } catch (err) {
          // A target no copy ever reached holds nothing of this point.
          if (!(err instanceof RepositoryAccessError && err.reason === 'Empty')) {
            throw err;
          }
        }
      }
    }
  }
}
