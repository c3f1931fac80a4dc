import { access, mkdir } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type {
  BackupRepository,
  RecoveryPoint,
  VirtualMachineRestore,
  VirtualMachineRestoreItem,
  VirtualMachineRestoreStatus,
} from '../api/index.js';
import { percentOf } from '../api/quantities.js';
import type { Logger } from '../common/log.js';
import { openStoredDisk } from '../datapath/stored-disk.js';
import { extract } from '../ilr/extract.js';
import { openVolume } from '../ilr/open-volume.js';
import { FileNotFoundError } from '../ntfs/errors.js';
import type { ResourceClient } from '../kube/client.js';
import { mergeConditions } from '../runtime/conditions.js';
import type { Repository } from '../repository/repository.js';
import { StatusWriter } from './status-writer.js';
import { BackupFailure } from './backup-job.js';
import { failedStatus } from '../recoverypoint/status.js';
import type { Hypervisor } from '../hypervisor/types.js';
import { readStoredVm } from './vm-layout.js';
import {
  bootTest,
  distinctVhdxNames,
  isolatedSwitchName,
  removeInterruptedBootTest,
  restoreWholeVm,
  writeDisks,
  type BootTestResult,
  type WholeVmResult,
} from './vm-restore.js';
import { parseDuration } from '../common/duration.js';
import { restoreLeftovers } from '../restore/leftovers.js';

export interface RestoreJobDeps {
  hypervisor: Hypervisor;
  restores: ResourceClient<VirtualMachineRestore>;
  points: ResourceClient<RecoveryPoint>;
  repositories: ResourceClient<BackupRepository>;
  openRepository: (repo: BackupRepository) => Promise<Repository>;
  fieldManager: string;
  node: string;
  logger: Logger;
  now: () => Date;
}

/** A folder the restore writes into: absolute on this host, created if missing. */
async function destinationFolder(path: string | undefined, field: string): Promise<string> {
  if (!path || !isAbsolute(path)) {
    throw new BackupFailure(
      'InvalidDestination',
      `${field} '${path ?? ''}' is not an absolute path on this host`,
    );
  }
  await mkdir(path, { recursive: true });
  return path;
}

const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

/**
 * An item path as people write it (`C:\inetpub\web.config` or `/inetpub/web.config`) as a path
 * inside the volume: the drive letter names no partition a host-level backup can know, so the
 * path is looked up on each disk's main NTFS volume in turn.
 */
export function volumePath(itemPath: string): string {
  return itemPath.replace(/^[A-Za-z]:/, '').replaceAll('\\', '/');
}

/**
 * Runs a VirtualMachineRestore assigned to this node. `Disks` writes each disk of the recovery
 * point as a VHDX into the target folder (never over an existing file); `Items` copies files and
 * folders out of the recovery point's NTFS volumes into the destination without restoring a disk;
 * `OriginalLocation` and `AlternateHost` restore and register the whole VM (vm-restore.ts).
 */
export async function runRestore(restore: VirtualMachineRestore, deps: RestoreJobDeps): Promise<void> {
  const { now } = deps;
  const namespace = restore.metadata.namespace;
  const status = new StatusWriter<VirtualMachineRestoreStatus>((st) =>
    deps.restores.applyStatus(restore.metadata.name, namespace, st, deps.fieldManager),
  );
  await status.write({ phase: 'Restoring', nodeName: deps.node, startTime: now().toISOString() });
  try {
    const rp = await deps.points.get(restore.spec.recoveryPoint, namespace);
    if (rp?.status?.phase !== 'Completed') {
      throw new BackupFailure(
        'RecoveryPointNotFound',
        `RecoveryPoint ${restore.spec.recoveryPoint} ${rp ? `is ${rp.status?.phase ?? 'Pending'}, not Completed` : 'does not exist'} in ${namespace ?? ''}`,
      );
    }
    const from = restore.spec.fromRepository;
    if (from && !(rp.status.copies ?? []).some((c) => c.repository === from && c.phase === 'Completed')) {
      throw new BackupFailure(
        'CopyNotAvailable',
        `RecoveryPoint ${rp.metadata.name} has no completed copy in ${from} (see its status.copies); restore from a repository listed there, or leave spec.fromRepository unset`,
      );
    }
    const repoName = from ?? rp.status.repository ?? rp.spec.repository ?? '';
    const repoObject = repoName ? await deps.repositories.get(repoName, namespace) : undefined;
    if (!repoObject) {
      throw new BackupFailure(
        'RepositoryNotFound',
        `BackupRepository ${namespace ?? ''}/${repoName} does not exist`,
      );
    }
    const repo = await deps.openRepository(repoObject);
    const disks = (rp.status.disks ?? []).filter((d) => d.manifest);
    const { target } = restore.spec;
    let restoredBytes = 0;
    let items: VirtualMachineRestoreItem[] | undefined;

    let restoredVm: WholeVmResult | undefined;
    let booted: BootTestResult | undefined;
    const bootTimeout = target.bootTimeout ?? '10m';
    const onProgress = (bytesDone: number, bytesTotal: number): void => {
      status.hint({ progress: { bytesDone, bytesTotal, percent: percentOf(bytesDone, bytesTotal) } });
    };
    if (target.type === 'Disks') {
      const folder = await destinationFolder(target.path, 'spec.target.path');
      // The stored file names are data from the host: only their last segment is used.
      const names = distinctVhdxNames(disks.map((d) => d.fileName ?? `disk-${d.controllerLocation}`));
      const writes = disks.map((disk, i) => ({
        manifest: disk.manifest ?? '',
        out: join(folder, names[i] ?? ''),
        size: disk.virtualSize ?? 0,
      }));
      for (const { out } of writes) {
        if (await exists(out)) {
          throw new BackupFailure(
            'DestinationExists',
            `${out} exists already; restore into an empty folder or remove it first`,
          );
        }
      }
      restoredBytes = await writeDisks(repo, writes, onProgress);
    } else if (target.type === 'Items') {
      const destination = await destinationFolder(target.items?.destination, 'spec.target.items.destination');
      items = [];
      for (const itemPath of target.items?.paths ?? []) {
        items.push(
          await restoreItem(
            repo,
            disks.map((d) => d.manifest ?? ''),
            itemPath,
            destination,
          ),
        );
      }
      restoredBytes = items.reduce((sum, i) => sum + (i.bytes ?? 0), 0);
    } else {
      if (target.type === 'AlternateHost') {
        await destinationFolder(target.path, 'spec.target.path');
      }
      const stored = await readStoredVm(repo, disks[0]?.manifest ?? '', rp.metadata.name);
      if (typeof stored === 'string') {
        throw new BackupFailure('NoVMConfiguration', stored);
      }
      const context = {
        restore,
        repo,
        hypervisor: deps.hypervisor,
        stored,
        sizes: new Map(disks.map((d) => [d.manifest ?? '', d.virtualSize ?? 0])),
        onProgress,
      };
      if (target.type === 'BootTest') {
        booted = await bootTest(context, {
          folder: await destinationFolder(testRestoreFolder(restore, deps.hypervisor), 'spec.target.path'),
          timeoutMs: parseDuration(bootTimeout),
        });
        restoredBytes = booted.restoredBytes;
      } else {
        restoredVm = await restoreWholeVm(context);
        restoredBytes = restoredVm.restoredBytes;
      }
    }

    const failed = (items ?? []).filter((i) => i.result !== 'Restored');
    const outcome: { reason: string; message: string; ok: boolean } = items
      ? {
          ok: failed.length === 0,
          reason: failed.length === 0 ? 'Restored' : 'ItemsNotRestored',
          message: `${items.length - failed.length} of ${items.length} items restored to ${target.items?.destination ?? ''}`,
        }
      : booted
        ? bootOutcome(booted, deps.node, bootTimeout)
        : {
            ok: true,
            reason: 'Restored',
            message: restoredVm
              ? vmMessage(restoredVm, deps.node)
              : `${disks.length} disks restored to ${target.path ?? ''}`,
          };
    const failureMessage =
      failed.length > 0
        ? failed.map((f) => `${f.path}: ${f.message ?? f.result}`).join('; ')
        : outcome.message;
    await status.write({
      phase: outcome.ok ? 'Completed' : 'Failed',
      completionTime: now().toISOString(),
      restoredBytes,
      ...(items ? { items } : {}),
      ...(restoredVm
        ? { restoredVM: { name: restoredVm.imported.vm.name, id: restoredVm.imported.vm.id } }
        : {}),
      ...(booted
        ? {
            bootTest: {
              vmName: booted.vmName,
              booted: booted.booted,
              heartbeat: booted.heartbeat,
              secondsToHeartbeat: booted.secondsToHeartbeat,
              removed: booted.leftBehind === undefined,
            },
          }
        : {}),
      ...(outcome.ok ? {} : { failure: { reason: outcome.reason, message: failureMessage } }),
      conditions: mergeConditions(
        restore.status?.conditions,
        [
          {
            type: 'Ready',
            status: outcome.ok ? 'True' : 'False',
            reason: outcome.reason,
            message: outcome.message,
            observedGeneration: restore.metadata.generation ?? 1,
          },
        ],
        now(),
      ),
    });
  } catch (err) {
    const reason = err instanceof BackupFailure ? err.reason : err instanceof Error ? err.name : 'Error';
    const message = err instanceof Error ? err.message : String(err);
    await status.write(failedStatus(restore, reason, message, now()));
    throw err;
  }
}

/** A boot test's folder: the one the restore names, else this host's own. */
function testRestoreFolder(restore: VirtualMachineRestore, hypervisor: Hypervisor): string {
  return restore.spec.target.path ?? hypervisor.testRestoreFolder;
}

/**
 * After an agent restart, a restore this node had under way cannot resume: it fails with what may
 * be left. A boot test's VM is the agent's own doing, so the agent removes it itself.
 */
export async function failInterruptedRestore(
  restore: VirtualMachineRestore,
  deps: Pick<RestoreJobDeps, 'hypervisor' | 'restores' | 'fieldManager' | 'node' | 'now'>,
): Promise<void> {
  const { target } = restore.spec;
  const left =
    target.type === 'BootTest'
      ? ((await removeInterruptedBootTest(
          deps.hypervisor,
          restore,
          testRestoreFolder(restore, deps.hypervisor),
        )) ?? 'its test VM and files were removed; verify the point again')
      : restoreLeftovers(restore);
  await deps.restores.applyStatus(
    restore.metadata.name,
    restore.metadata.namespace,
    failedStatus(
      restore,
      'AgentRestarted',
      `the agent on ${deps.node} restarted while this restore ran; ${left}`,
      deps.now(),
    ),
    deps.fieldManager,
  );
}

/** A boot test passes when the guest answered and the test VM is gone again. */
function bootOutcome(
  result: BootTestResult,
  node: string,
  timeout: string,
): { ok: boolean; reason: string; message: string } {
  if (result.leftBehind !== undefined) {
    return { ok: false, reason: 'CleanupFailed', message: result.leftBehind };
  }
  if (!result.booted) {
    return {
      ok: false,
      reason: 'NoHeartbeat',
      message: `the test VM ${result.vmName} on ${node} started but its guest sent no heartbeat within ${timeout} (Heartbeat ${result.heartbeat}): the recovery point may not boot; look at the VM's console in a manual AlternateHost restore, or verify an older point; the test VM was removed`,
    };
  }
  return {
    ok: true,
    reason: 'Booted',
    message: `the test VM ${result.vmName} booted on ${node} on the isolated switch ${isolatedSwitchName} (heartbeat ${result.heartbeat} after ${result.secondsToHeartbeat} s) and was removed`,
  };
}

function vmMessage(result: WholeVmResult, node: string): string {
  const { vm } = result.imported;
  return [
    `VM ${vm.name} (${vm.id}) registered on ${node}${result.started ? ' and started' : ', left off'}`,
    ...result.imported.adjustments,
  ].join('; ');
}

/** One item: the first disk whose main NTFS volume holds the path wins. */
async function restoreItem(
  repo: Repository,
  manifests: string[],
  itemPath: string,
  destination: string,
): Promise<VirtualMachineRestoreItem> {
  const inside = volumePath(itemPath);
  let unreadable: string | undefined;
  for (const manifest of manifests) {
    let volume;
    try {
      ({ volume } = await openVolume(await openStoredDisk(repo, manifest)));
    } catch (err) {
      // A disk without a browsable volume (blank, ReFS, damaged) cannot hold the item; try the next.
      unreadable = err instanceof Error ? err.message : String(err);
      continue;
    }
    try {
      const report = await extract(volume, inside, destination);
      const notes = [
        ...report.renamed.map((r) => `renamed ${r.ntfsPath}: ${r.reason}`),
        ...report.skipped.map((s) => `skipped ${s.ntfsPath}: ${s.reason}`),
      ];
      return {
        path: itemPath,
        result: 'Restored',
        files: report.files,
        bytes: report.bytes,
        ...(notes.length > 0 ? { message: notes.join('; ') } : {}),
      };
    } catch (err) {
      if (err instanceof FileNotFoundError) {
        continue;
      }
      return { path: itemPath, result: 'Failed', message: err instanceof Error ? err.message : String(err) };
    }
  }
  if (unreadable !== undefined) {
    return {
      path: itemPath,
      result: 'NotFound',
      message: `not found on any readable volume (one disk could not be opened: ${unreadable})`,
    };
  }
  return { path: itemPath, result: 'NotFound', message: 'no disk of the recovery point holds this path' };
}
