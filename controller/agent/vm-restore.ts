/**
 * Whole-VM restores: OriginalLocation (the VM back where it was, with its ID, replacing what is
 * there) and AlternateHost (a new VM with a new ID in a new folder on this node). Disks are written
 * to staging files first, so a restore that fails while data moves leaves the original VM as it
 * was; only after every disk is in place is the original turned off and unregistered.
 */
import { access, mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import type { VirtualMachineRestore } from '../api/index.js';
import { restoreDisk } from '../datapath/restore.js';
import { bootTestPlace } from '../restore/leftovers.js';
import type { BootCheckResult, Hypervisor, ImportedVm } from '../hypervisor/types.js';
import type { Repository } from '../repository/repository.js';
import { BackupFailure } from './backup-job.js';
import type { StoredVm } from './vm-layout.js';

export interface DiskWrite {
  manifest: string;
  out: string;
  size: number;
}

const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

/** Writes each disk as a VHDX, reporting bytes done across all of them. */
export async function writeDisks(
  repo: Repository,
  writes: DiskWrite[],
  onProgress: (bytesDone: number, bytesTotal: number) => void,
): Promise<number> {
  const total = writes.reduce((sum, w) => sum + w.size, 0);
  let done = 0;
  for (const write of writes) {
    const before = done;
    await restoreDisk(repo, write.manifest, write.out, {
      format: 'vhdx',
      onProgress: (bytes: number) => {
        onProgress(before + bytes, total);
      },
    });
    done += write.size;
  }
  return done;
}

/** A disk file name from host data, reduced to its last segment and given the .vhdx extension. */
export function vhdxName(hostPath: string): string {
  const stem = basename(hostPath.replaceAll('\\', '/'));
  return `${basename(stem, extname(stem))}.vhdx`;
}

/**
 * File names for disks that go into one folder: two disks called data.vhdx in different folders of
 * the original VM must not land on the same file, so repeats get the disk's position as a suffix.
 */
export function distinctVhdxNames(hostPaths: readonly string[]): string[] {
  const names = hostPaths.map(vhdxName);
  return names.map((name, i) =>
    names.findIndex((n) => n.toLowerCase() === name.toLowerCase()) === i
      ? name
      : `${basename(name, '.vhdx')}-${i}.vhdx`,
  );
}

export interface WholeVmContext {
  restore: VirtualMachineRestore;
  repo: Repository;
  hypervisor: Hypervisor;
  stored: StoredVm;
  /** Virtual size per manifest, for progress. */
  sizes: Map<string, number>;
  onProgress: (bytesDone: number, bytesTotal: number) => void;
}

export interface WholeVmResult {
  imported: ImportedVm;
  restoredBytes: number;
  started: boolean;
}

export async function restoreWholeVm(ctx: WholeVmContext): Promise<WholeVmResult> {
  const { target } = ctx.restore.spec;
  const result = target.type === 'AlternateHost' ? await alternateHost(ctx) : await originalLocation(ctx);
  const started = target.startVM === true;
  if (started) {
    await ctx.hypervisor.startVm(result.imported.vm.id);
  }
  return { ...result, started };
}

async function originalLocation(ctx: WholeVmContext): Promise<Omit<WholeVmResult, 'started'>> {
  const { hypervisor, stored, restore } = ctx;
  const { layout } = stored;
  const existing = await hypervisor.getVm(layout.vmId);
  if (existing && existing.state !== 'Off' && restore.spec.target.stopRunningVM !== true) {
    throw new BackupFailure(
      'VMRunning',
      `VM ${existing.name} (${existing.id}) is ${existing.state} on ${hypervisor.node}; an OriginalLocation restore replaces it: set spec.target.stopRunningVM: true to turn it off first, or restore a copy with type AlternateHost`,
    );
  }
  const staged = layout.disks.map((d) => {
    const final = join(dirname(d.path), vhdxName(d.path));
    return { disk: d, final, staging: `${final}.restoring-${restore.metadata.uid ?? restore.metadata.name}` };
  });
  let restoredBytes: number;
  try {
    // The VM's folder may be gone with the VM (a deleted VM whose files were removed too).
    await Promise.all(staged.map((s) => mkdir(dirname(s.final), { recursive: true })));
    restoredBytes = await writeDisks(
      ctx.repo,
      staged.map((s) => ({
        manifest: s.disk.manifest,
        out: s.staging,
        size: ctx.sizes.get(s.disk.manifest) ?? 0,
      })),
      ctx.onProgress,
    );
  } catch (err) {
    await Promise.all(staged.map((s) => rm(s.staging, { force: true })));
    throw err;
  }
  // From here on the original is touched: a failure says what is left and where.
  if (existing) {
    if (existing.state !== 'Off') {
      await hypervisor.stopVm(existing.id, { force: true });
    }
    await hypervisor.unregisterVm(existing.id);
  }
  try {
    for (const s of staged) {
      await rename(s.staging, s.final);
    }
    const imported = await hypervisor.importVm({
      configuration: stored.configuration,
      configurationName: layout.configurationName,
      stateFiles: stored.stateFiles,
      vmPath: layout.configurationFolder,
      identity: 'Same',
      disks: staged.map((s) => ({ ...s.disk, path: s.final })),
    });
    return { imported, restoredBytes };
  } catch (err) {
    const left = staged.map((s) => s.final).join(', ');
    throw new BackupFailure(
      'ImportFailed',
      `${existing ? `the original VM ${layout.vmName} was removed and ` : ''}its restored disks are at ${left}, but registering the VM failed: ${err instanceof Error ? err.message : String(err)}; fix the cause and restore again, or import the configuration by hand`,
    );
  }
}

async function alternateHost(ctx: WholeVmContext): Promise<Omit<WholeVmResult, 'started'>> {
  const { target } = ctx.restore.spec;
  const name = target.newName ?? ctx.stored.layout.vmName;
  // The folder is named after the VM; a name that is no file name cannot be the folder's.
  if (!/^[^\\/:*?"<>|\p{Cc}]+$/u.test(name) || name === '.' || name === '..') {
    throw new BackupFailure(
      'InvalidName',
      `VM name ${JSON.stringify(name)} cannot name a folder; set spec.target.newName to a name without \\ / : * ? " < > |`,
    );
  }
  return importCopy(ctx, {
    vmPath: join(target.path ?? '', name),
    ...(target.newName === undefined ? {} : { newName: name }),
  });
}

/**
 * Restores the point as a new VM (new ID) in a folder of its own: disks staged under it, then
 * imported. Nothing is registered until every disk is written; a failure removes the folder.
 */
async function importCopy(
  ctx: WholeVmContext,
  place: { vmPath: string; newName?: string; isolatedSwitch?: string },
): Promise<Omit<WholeVmResult, 'started'>> {
  const { hypervisor, stored } = ctx;
  const { layout } = stored;
  const { vmPath } = place;
  if (await exists(vmPath)) {
    throw new BackupFailure(
      'DestinationExists',
      `${vmPath} exists already; choose another spec.target.path or newName, or remove the folder`,
    );
  }
  const staging = join(vmPath, 'Staging');
  try {
    await mkdir(staging, { recursive: true });
    const names = distinctVhdxNames(layout.disks.map((d) => d.path));
    const disks = layout.disks.map((d, i) => ({ ...d, path: join(staging, names[i] ?? vhdxName(d.path)) }));
    const restoredBytes = await writeDisks(
      ctx.repo,
      disks.map((d) => ({ manifest: d.manifest, out: d.path, size: ctx.sizes.get(d.manifest) ?? 0 })),
      ctx.onProgress,
    );
    const imported = await hypervisor.importVm({
      configuration: stored.configuration,
      configurationName: layout.configurationName,
      stateFiles: stored.stateFiles,
      vmPath,
      identity: 'New',
      ...(place.newName === undefined ? {} : { newName: place.newName }),
      ...(place.isolatedSwitch === undefined ? {} : { isolatedSwitch: place.isolatedSwitch }),
      disks,
    });
    await rm(staging, { recursive: true, force: true });
    return { imported, restoredBytes };
  } catch (err) {
    // Nothing was registered: the folder this restore created is all there is to remove.
    await rm(vmPath, { recursive: true, force: true });
    throw err;
  }
}

/** The private switch boot tests use; Hyper-V creates it on first use, and it reaches no network. */
export const isolatedSwitchName = 'Shadowkeep Isolated';

export interface BootTestResult {
  vmName: string;
  booted: boolean;
  heartbeat: string;
  secondsToHeartbeat: number;
  restoredBytes: number;
  /** Set when the test VM or its files could not be removed: what is left, for people to remove. */
  leftBehind?: string;
}

/**
 * Proof that a recovery point boots: restored as a new VM on an isolated private switch, started,
 * its guest's heartbeat awaited, then turned off and removed with its files, whatever happened.
 */
export async function bootTest(
  ctx: WholeVmContext,
  options: { folder: string; timeoutMs: number },
): Promise<BootTestResult> {
  const { hypervisor, restore, stored } = ctx;
  const place = bootTestPlace(restore, options.folder);
  const vmName = `${stored.layout.vmName.slice(0, 80)} ${place.nameSuffix}`;
  const { vmPath } = place;
  const { imported, restoredBytes } = await importCopy(ctx, {
    vmPath,
    newName: vmName,
    isolatedSwitch: isolatedSwitchName,
  });
  const vmId = imported.vm.id;
  let check: BootCheckResult;
  try {
    await hypervisor.startVm(vmId);
    check = await hypervisor.bootCheck(vmId, options.timeoutMs);
  } catch (err) {
    const leftBehind = await removeTestVm(hypervisor, vmId, vmPath);
    if (leftBehind === undefined) {
      throw err;
    }
    throw new BackupFailure(
      'CleanupFailed',
      `${err instanceof Error ? err.message : String(err)}; ${leftBehind}`,
    );
  }
  const leftBehind = await removeTestVm(hypervisor, vmId, vmPath);
  return {
    vmName,
    booted: check.booted,
    heartbeat: check.heartbeat,
    secondsToHeartbeat: Math.round(check.elapsedMs / 1000),
    restoredBytes,
    ...(leftBehind === undefined ? {} : { leftBehind }),
  };
}

/**
 * After an agent restart: the test VM of a boot test that was running (if it got registered) and its
 * folder are removed. Says what is left if that fails.
 */
export async function removeInterruptedBootTest(
  hypervisor: Hypervisor,
  restore: VirtualMachineRestore,
  folder: string,
): Promise<string | undefined> {
  const { vmPath, nameSuffix } = bootTestPlace(restore, folder);
  const vms = await hypervisor.listVms();
  for (const vm of vms.filter((v) => v.name.endsWith(nameSuffix))) {
    const left = await removeTestVm(hypervisor, vm.id, vmPath);
    if (left !== undefined) {
      return left;
    }
  }
  return removeTestVm(hypervisor, undefined, vmPath);
}

/** Turns the test VM off, unregisters it and deletes its folder; says what is left if any step fails. */
async function removeTestVm(
  hypervisor: Hypervisor,
  vmId: string | undefined,
  vmPath: string,
): Promise<string | undefined> {
  try {
    const vm = vmId === undefined ? undefined : await hypervisor.getVm(vmId);
    if (vm) {
      if (vm.state !== 'Off') {
        await hypervisor.stopVm(vm.id, { force: true });
      }
      await hypervisor.unregisterVm(vm.id);
    }
    await rm(vmPath, { recursive: true, force: true });
    return undefined;
  } catch (err) {
    return `the test VM ${vmId ?? `in ${vmPath}`} on ${hypervisor.node} could not be removed (${err instanceof Error ? err.message : String(err)}); turn it off, remove it (Remove-VM) and delete ${vmPath}`;
  }
}
