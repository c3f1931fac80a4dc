import { KubeConfig } from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  BackupRepositoryResource,
  RecoveryPointResource,
  type BackupRepository,
  type RecoveryPoint,
  type RecoveryPointDisk,
} from '../api/index.js';
import { ResourceClient } from '../kube/client.js';
import { KubeRest } from '../kube/rest.js';
import { openRepository } from '../repositories/access.js';
import type { Repository } from '../repository/repository.js';

export class RecoveryPointLookupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecoveryPointLookupError';
  }
}

/**
 * The stored disk of a recovery point to browse: the only one, or the one whose controller
 * location or file name matches `selector` (a VM with several disks needs one).
 */
export function chooseDisk(
  name: string,
  disks: readonly RecoveryPointDisk[],
  selector?: string,
): RecoveryPointDisk & { manifest: string } {
  const stored = disks.filter(
    (d): d is RecoveryPointDisk & { manifest: string } => d.manifest !== undefined && d.manifest !== '',
  );
  const describe = (d: RecoveryPointDisk) => `${d.controllerLocation}${d.fileName ? ` (${d.fileName})` : ''}`;
  if (stored.length === 0) {
    throw new RecoveryPointLookupError(`recovery point ${name} has no stored disks (is it Completed?)`);
  }
  if (selector === undefined) {
    const [only] = stored;
    if (stored.length === 1 && only) {
      return only;
    }
    throw new RecoveryPointLookupError(
      `recovery point ${name} has ${stored.length} disks; choose one with --vm-disk: ${stored.map(describe).join(', ')}`,
    );
  }
  const wanted = selector.toLowerCase();
  const match = stored.find(
    (d) => d.controllerLocation.toLowerCase() === wanted || d.fileName?.toLowerCase() === wanted,
  );
  if (!match) {
    throw new RecoveryPointLookupError(
      `recovery point ${name} has no disk "${selector}": ${stored.map(describe).join(', ')}`,
    );
  }
  return match;
}

/**
 * Finds a RecoveryPoint's repository and manifest through the cluster, so `files` accepts the
 * names `kubectl get recoverypoints` shows. The key comes from the BackupRepository's Secret.
 */
export async function resolveRecoveryPoint(
  name: string,
  options: { namespace?: string; disk?: string },
): Promise<{ repo: Repository; manifestId: string }> {
  // Without any of these, client-node silently falls back to http://localhost:8080.
  const configured =
    process.env.KUBECONFIG !== undefined ||
    process.env.KUBERNETES_SERVICE_HOST !== undefined ||
    existsSync(join(homedir(), '.kube', 'config'));
  if (!configured) {
    throw new RecoveryPointLookupError(
      'no Kubernetes cluster is configured (KUBECONFIG or ~/.kube/config); use --manifest with --repo instead',
    );
  }
  const config = new KubeConfig();
  config.loadFromDefault();
  const rest = new KubeRest(config);
  const namespace =
    options.namespace ?? config.getContextObject(config.getCurrentContext())?.namespace ?? 'default';
  const point = await new ResourceClient<RecoveryPoint>(rest, RecoveryPointResource)
    .get(name, namespace)
    .catch((err: unknown) => {
      throw new RecoveryPointLookupError(
        `cannot read RecoveryPoint ${namespace}/${name}: ${err instanceof Error ? err.message : String(err)}`,
      );
    });
  if (!point) {
    throw new RecoveryPointLookupError(`no RecoveryPoint ${namespace}/${name}`);
  }
  const repositoryName = point.status?.repository ?? point.spec.repository;
  if (!repositoryName) {
    throw new RecoveryPointLookupError(`RecoveryPoint ${namespace}/${name} names no repository`);
  }
  const repository = await new ResourceClient<BackupRepository>(rest, BackupRepositoryResource).get(
    repositoryName,
    namespace,
  );
  if (!repository) {
    throw new RecoveryPointLookupError(
      `RecoveryPoint ${namespace}/${name} is in BackupRepository ${repositoryName}, which does not exist`,
    );
  }
  const disk = chooseDisk(name, point.status?.disks ?? [], options.disk);
  return { repo: await openRepository(rest, repository), manifestId: disk.manifest };
}
