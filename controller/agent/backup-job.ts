import { readFile } from 'node:fs/promises';
import {
  labels,
  vmIdOf,
  type BackupRepository,
  type RecoveryPoint,
  type RecoveryPointDisk,
  type RecoveryPointStatus,
  type VirtualMachineProtection,
} from '../api/index.js';
import { formatBytes, percentOf } from '../api/quantities.js';
import { StatusWriter } from './status-writer.js';
import { awaitGroup, groupCondition } from './consistency-group.js';
import { encodeRecord, recoveryPointRecordCatalog } from '../recoverypoint/record.js';
import { failedStatus } from '../recoverypoint/status.js';
import { parseDuration } from '../common/duration.js';
import type { Logger } from '../common/log.js';
import { backupDisk } from '../datapath/backup.js';
import { decideBackupMode } from '../hypervisor/decision.js';
import { HypervisorError, type Hypervisor, type ReferencePoint, type Snapshot } from '../hypervisor/types.js';
import type { ResourceClient } from '../kube/client.js';
import type { Repository } from '../repository/repository.js';
import { layoutOf, vmConfigurationCatalog, vmLayoutCatalog, vmStateCatalogs } from './vm-layout.js';

/** Annotation on a completed recovery point: the change-tracking reference its successor diffs against. */
export const referencePointAnnotation = 'shadowkeep.io/reference-point';

/** A failure that ends a recovery point, with a reason code for metrics and a message for people. */
export class BackupFailure extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'BackupFailure';
  }
}

export interface BackupJobDeps {
  hypervisor: Hypervisor;
  points: ResourceClient<RecoveryPoint>;
  openRepository: (repo: BackupRepository) => Promise<Repository>;
  repositories: ResourceClient<BackupRepository>;
  protections: ResourceClient<VirtualMachineProtection>;
  fieldManager: string;
  logger: Logger;
  now: () => Date;
  /** Minimum time between progress writes, so a long backup costs a handful of API writes. */
  progressIntervalMs?: number;
}

/**
 * What a recovery point asks for: its own spec, with the gaps filled from the policy it names
 * (people creating a point on demand may name only the policy).
 */
export function effectiveSpec(
  rp: RecoveryPoint,
  policy: VirtualMachineProtection | undefined,
): {
  repository?: string;
  requestedMode: NonNullable<RecoveryPoint['spec']['requestedMode']>;
  maxDowntime?: string;
} {
  const repository = rp.spec.repository ?? policy?.spec.repository;
  const maxDowntime = rp.spec.maxDowntime ?? policy?.spec.maxDowntime;
  return {
    ...(repository ? { repository } : {}),
    requestedMode: rp.spec.requestedMode ?? policy?.spec.backupMode ?? 'OnlineOrSavedState',
    ...(maxDowntime ? { maxDowntime } : {}),
  };
}

/** Which mode to snapshot in: what the policy asks, limited by what the VM allows now. */
export function chooseMode(
  requested: RecoveryPoint['spec']['requestedMode'],
  allowed: 'Online' | 'SavedState' | 'Unprotectable',
  blockers: string[],
): 'Online' | 'SavedState' {
  if (allowed === 'Unprotectable') {
    throw new BackupFailure(
      'Unprotectable',
      `the VM cannot be backed up from the host: ${blockers.join('; ')}`,
    );
  }
  if (requested === 'SavedState') {
    return 'SavedState';
  }
  if (allowed === 'Online') {
    return 'Online';
  }
  if (requested === 'Online') {
    throw new BackupFailure(
      'ApplicationConsistencyImpossible',
      `the policy requires an application-consistent backup, but the VM allows only saved state: ${blockers.join('; ')}`,
    );
  }
  return 'SavedState';
}

/** The newest completed recovery point of the same VM in the same repository: the incremental's base. */
async function findParent(
  points: ResourceClient<RecoveryPoint>,
  rp: RecoveryPoint,
  repository: string,
): Promise<RecoveryPoint | undefined> {
  const vmId = vmIdOf(rp) ?? '';
  const { items } = await points.list(rp.metadata.namespace, { labelSelector: `${labels.vmId}=${vmId}` });
  return items
    .filter(
      (p) =>
        p.metadata.name !== rp.metadata.name &&
        p.status?.phase === 'Completed' &&
        !p.metadata.deletionTimestamp &&
        (p.status.repository ?? p.spec.repository) === repository,
    )
    .sort((a, b) => (b.status?.pointInTime ?? '').localeCompare(a.status?.pointInTime ?? ''))[0];
}

function referenceOf(parent: RecoveryPoint | undefined): ReferencePoint | undefined {
  const text = parent?.metadata.annotations?.[referencePointAnnotation];
  if (!text) {
    return undefined;
  }
  try {
    return JSON.parse(text) as ReferencePoint;
  } catch {
    return undefined;
  }
}

/**
 * The parent's change-tracking reference is no longer anyone's baseline once this point completed
 * (the next backup diffs against the newest completed point), so the host need not keep it; Hyper-V
 * would otherwise keep one reference point per backup for good. Should the new point be deleted,
 * the next backup finds the reference gone and runs a consistency check instead of an incremental.
 */
async function dropSupersededReference(
  hypervisor: Hypervisor,
  superseded: ReferencePoint | undefined,
  current: ReferencePoint | undefined,
  logger: Logger,
): Promise<void> {
  if (!superseded || superseded.id === current?.id) {
    return;
  }
  await hypervisor.destroyReferencePoint(superseded).catch((err: unknown) => {
    logger.warn('could not drop a superseded change-tracking reference point', {
      vmId: superseded.vmId,
      reference: superseded.id,
      error: String(err),
    });
  });
}

/**
 * Takes one recovery point: snapshot the VM in the mode its policy allows, move each disk's
 * changed blocks into the repository (incremental to the newest completed point, even one taken
 * on another node), keep the snapshot as the next change-tracking reference, and record what was
 * achieved. The snapshot is always released, whatever fails.
 */
export async function runBackup(rp: RecoveryPoint, deps: BackupJobDeps): Promise<void> {
  const { hypervisor, points, logger, now } = deps;
  const name = rp.metadata.name;
  const namespace = rp.metadata.namespace;
  const vmId = vmIdOf(rp) ?? '';
  const status = new StatusWriter<RecoveryPointStatus>((st) =>
    points.applyStatus(name, namespace, st, deps.fieldManager),
  );
  const writeStatus = (part: RecoveryPointStatus): Promise<void> => status.write(part);
  const startTime = now().toISOString();
  await writeStatus({
    phase: 'Snapshotting',
    nodeName: hypervisor.node,
    vmId,
    startTime,
  });

  let snapshot: Snapshot | undefined;
  let keepReference = false;
  try {
    const policy = rp.spec.protection ? await deps.protections.get(rp.spec.protection, namespace) : undefined;
    const spec = effectiveSpec(rp, policy);
    if (!spec.repository) {
      throw new BackupFailure(
        'RepositoryNotSet',
        'the recovery point names no repository, and no policy that names one: set spec.repository or spec.protection',
      );
    }
    await writeStatus({ repository: spec.repository });
    const [vm, host] = await Promise.all([hypervisor.getVm(vmId), hypervisor.getHost()]);
    if (!vm) {
      throw new BackupFailure(
        'VMNotOnThisNode',
        `VM ${vmId} is not on ${hypervisor.node} (it may have migrated); a new attempt will follow it`,
      );
    }
    const decision = decideBackupMode(vm, host);
    const mode = chooseMode(
      spec.requestedMode,
      decision.mode,
      decision.blockers.map((b) => b.reason),
    );
    const repoName = spec.repository;
    const repoObject = await deps.repositories.get(repoName, namespace);
    if (!repoObject) {
      throw new BackupFailure(
        'RepositoryNotFound',
        `BackupRepository ${namespace ?? ''}/${repoName} does not exist`,
      );
    }
    const repo = await deps.openRepository(repoObject);
    const parent = await findParent(points, rp, repoName);

    const group = rp.spec.consistencyGroup
      ? await awaitGroup(points, rp, (condition) => writeStatus({ conditions: [condition] }), { now })
      : undefined;
    snapshot = await hypervisor.createSnapshot(vmId, { mode, label: name });
    const extraConditions = group ? [groupCondition(rp.spec.consistencyGroup ?? '', group, now())] : [];
    if (spec.maxDowntime && snapshot.downtimeMs > parseDuration(spec.maxDowntime)) {
      logger.warn('saved-state downtime exceeded maxDowntime', {
        name,
        downtimeMs: snapshot.downtimeMs,
        maxDowntime: spec.maxDowntime,
      });
    }
    const changes = await hypervisor.getChanges(snapshot, referenceOf(parent));
    const parentDisks = new Map((parent?.status?.disks ?? []).map((d) => [d.controllerLocation, d.manifest]));
    const total = snapshot.disks.reduce((sum, d) => sum + d.virtualSize, 0);
    await writeStatus({ phase: 'Transferring', progress: { bytesDone: 0, bytesTotal: total, percent: 0 } });

    let done = 0;
    let lastProgress = 0;
    const disks: RecoveryPointDisk[] = [];
    const manifestsByDisk = new Map<string, string>();
    let method: RecoveryPointStatus['method'] = parent ? 'Incremental' : 'Full';
    for (const disk of snapshot.disks) {
      const location = String(disk.controllerLocation);
      const change = changes.find((c) => c.diskId === disk.diskId);
      const parentId = parentDisks.get(location);
      if (change?.kind === 'All' && change.reason === 'TrackingLost' && parentId) {
        method = 'ConsistencyCheck';
      }
      const manifest = await backupDisk(repo, disk.snapshotPath, {
        name: `${vmId}-${disk.diskId}`,
        ...(parentId ? { parentId } : { full: true }),
        ...(parentId && change?.kind === 'Ranges' ? { changedRanges: change.ranges } : {}),
        source: {
          vm: rp.spec.vm.name ?? '',
          vmId,
          recoveryPoint: name,
          consistency: snapshot.consistency,
          controllerLocation: location,
        },
        onProgress: (bytes) => {
          const t = Date.now();
          if (t - lastProgress >= (deps.progressIntervalMs ?? 2000)) {
            lastProgress = t;
            const bytesDone = done + bytes;
            status.hint({ progress: { bytesDone, bytesTotal: total, percent: percentOf(bytesDone, total) } });
          }
        },
      });
      done += disk.virtualSize;
      manifestsByDisk.set(disk.diskId, manifest.id);
      disks.push({
        controllerLocation: location,
        fileName: disk.sourcePath.split(/[\\/]/).pop() ?? disk.sourcePath,
        virtualSize: disk.virtualSize,
        allocatedBytes: manifest.chunks.filter((c) => c !== null).length * manifest.chunkSize,
        readBytes: manifest.stats.bytesRead,
        changedBytes: manifest.stats.bytesChanged,
        uploadedBytes: manifest.stats.bytesUploaded,
        manifest: manifest.id,
      });
    }
    if (disks[0]?.manifest) {
      await repo.putCatalog(
        disks[0].manifest,
        vmConfigurationCatalog,
        await readFile(snapshot.configurationPath),
      );
      for (const state of snapshot.stateFiles) {
        await repo.putCatalog(disks[0].manifest, vmStateCatalogs[state.kind], await readFile(state.path));
      }
      const layout = layoutOf(vm, snapshot, manifestsByDisk);
      await repo.putCatalog(disks[0].manifest, vmLayoutCatalog, Buffer.from(JSON.stringify(layout)));
    }

    const reference = await hypervisor.releaseSnapshot(snapshot, { keepAsReference: true });
    keepReference = true;
    if (reference) {
      await points.mergePatch(name, namespace, {
        metadata: { annotations: { [referencePointAnnotation]: JSON.stringify(reference) } },
      });
    }
    const uploaded = disks.reduce((s, d) => s + (d.uploadedBytes ?? 0), 0);
    const stored = disks.reduce((s, d) => s + (d.allocatedBytes ?? 0), 0);
    const completed: RecoveryPointStatus = {
      phase: 'Completed',
      repository: repoName,
      vmId,
      consistency: snapshot.consistency,
      method,
      ...(parent ? { parent: parent.metadata.name } : {}),
      pointInTime: snapshot.pointInTime.toISOString(),
      completionTime: now().toISOString(),
      downtimeSeconds: snapshot.downtimeMs / 1000,
      size: formatBytes(stored),
      uploaded: formatBytes(uploaded),
      disks,
      notCovered: snapshot.excludedDisks.map((d) => ({
        reason: 'DiskNotCovered',
        message: `disk ${d.diskId}: ${d.reason}`,
      })),
      progress: { bytesDone: total, bytesTotal: total, percent: 100 },
      conditions: [
        ...extraConditions,
        {
          type: 'Ready',
          status: 'True',
          reason: 'Completed',
          message: `${snapshot.consistency} ${method.toLowerCase()} backup: ${formatBytes(uploaded)} uploaded`,
          lastTransitionTime: now().toISOString(),
          observedGeneration: rp.metadata.generation ?? 1,
        },
      ],
    };
    if (disks[0]?.manifest) {
      await repo.putCatalog(disks[0].manifest, recoveryPointRecordCatalog, encodeRecord(rp, completed));
    }
    await writeStatus(completed);
    await dropSupersededReference(hypervisor, referenceOf(parent), reference, logger);
  } catch (err) {
    if (snapshot && !keepReference) {
      await hypervisor
        .releaseSnapshot(snapshot, { keepAsReference: false })
        .catch((cleanupError: unknown) => {
          logger.error('could not release the snapshot after a failed backup', {
            name,
            error: String(cleanupError),
          });
        });
    }
    const reason =
      err instanceof BackupFailure
        ? err.reason
        : err instanceof HypervisorError
          ? err.code
          : err instanceof Error
            ? err.name
            : 'Error';
    const message = err instanceof Error ? err.message : String(err);
    await writeStatus(failedStatus(rp, reason, message, now()));
    throw err;
  }
}
