import { KubeConfig } from '../kube/kubeconfig.js';
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

/** A RecoveryPoint and the BackupRepository holding it, found through the cluster from the CLI. */
export interface ClusterRecoveryPoint {
  rest: KubeRest;
  namespace: string;
  point: RecoveryPoint;
  repository: BackupRepository;
}

/** Connects as kubectl would; refuses to fall back silently to http://localhost:8080. */
export function connectFromCli(namespace?: string): { rest: KubeRest; namespace: string } {
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
  return {
    rest: new KubeRest(config),
    namespace: namespace ?? config.getContextObject(config.getCurrentContext())?.namespace ?? 'default',
  };
}

/** Reads a BackupRepository by name, with an error that names what is missing. */
export async function lookUpRepository(
  rest: KubeRest,
  namespace: string,
  name: string,
): Promise<BackupRepository> {
  const repository = await new ResourceClient<BackupRepository>(rest, BackupRepositoryResource).get(
    name,
    namespace,
  );
  if (!repository) {
    throw new RecoveryPointLookupError(`no BackupRepository ${namespace}/${name}`);
  }
  return repository;
}

/** Finds a RecoveryPoint by the name `kubectl get recoverypoints` shows, and its repository. */
export async function lookUpRecoveryPoint(name: string, namespace?: string): Promise<ClusterRecoveryPoint> {
  const cluster = connectFromCli(namespace);
  const { rest } = cluster;
  const point = await new ResourceClient<RecoveryPoint>(rest, RecoveryPointResource)
    .get(name, cluster.namespace)
    .catch((err: unknown) => {
      throw new RecoveryPointLookupError(
        `cannot read RecoveryPoint ${cluster.namespace}/${name}: ${err instanceof Error ? err.message : String(err)}`,
      );
    });
  if (!point) {
    throw new RecoveryPointLookupError(`no RecoveryPoint ${cluster.namespace}/${name}`);
  }
  const repositoryName = point.status?.repository ?? point.spec.repository;
  if (!repositoryName) {
    throw new RecoveryPointLookupError(`RecoveryPoint ${cluster.namespace}/${name} names no repository`);
  }
  const repository = await lookUpRepository(rest, cluster.namespace, repositoryName).catch(() => {
    throw new RecoveryPointLookupError(
      `RecoveryPoint ${cluster.namespace}/${name} is in BackupRepository ${repositoryName}, which does not exist`,
    );
  });
  return { ...cluster, point, repository };
}

/**
 * Finds a RecoveryPoint's repository and manifest through the cluster, so `files` accepts the
 * names `kubectl get recoverypoints` shows. The key comes from the BackupRepository's Secret.
 */
export async function resolveRecoveryPoint(
  name: string,
  options: { namespace?: string; disk?: string },
): Promise<{ repo: Repository; manifestId: string }> {
  const { rest, point, repository } = await lookUpRecoveryPoint(name, options.namespace);
  const disk = chooseDisk(name, point.status?.disks ?? [], options.disk);
  return { repo: await openRepository(rest, repository), manifestId: disk.manifest };
}
