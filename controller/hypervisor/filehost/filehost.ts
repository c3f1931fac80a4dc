/**
 * `filehost`: the `Hypervisor` backend for Linux development, demos and tests. One instance is one
 * simulated Hyper-V node; several instances (in one or several processes) sharing a root form a
 * cluster. See layout.ts for the folder layout and docs/hypervisor-backends.md for the model.
 */
import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import {
  HypervisorError,
  type BootCheckResult,
  type Consistency,
  type DiskChanges,
  type HostInfo,
  type Hypervisor,
  type ImportRequest,
  type ImportedVm,
  type RecoverySnapshotInfo,
  type ReferencePoint,
  type Snapshot,
  type SnapshotHandle,
  type SnapshotRequest,
  type VmInfo,
} from '../types.js';
import { awaitHeartbeat, isolatedNetworkNote } from '../boot-check.js';
import { excludedDisks } from '../decision.js';
import { checkSwitchName, checkVmName } from '../names.js';
import {
  readJson,
  writeJsonAtomic,
  type SimCheckpoint,
  type SimDisk,
  type SimHost,
  type SimState,
  type SimVm,
} from './config.js';
import { bootProblem } from './firmware.js';
import { heartbeatOf, vmInfo } from './inventory.js';
import { Layout, checkNodeName, checkVmId } from './layout.js';
import { isCode, withLock } from './lock.js';
import { changesSince, freezeDisks, onlineRefusal } from './snapshots.js';
import { dropChangeLog, rctId } from './tracking.js';

export interface FileHostOptions {
  /** The simulated cluster's folder, shared by every host of the cluster. */
  root: string;
  /** This host's node name; `<root>/hosts/<node>/host.json` must exist (`shadowkeep sim host create`). */
  node: string;
  /** Injected clock for tests; defaults to the wall clock. */
  now?: () => Date;
}

/** Time a save or a resume takes: a real host writes or reads the VM's memory. */
const saveResumeMs = 20;
const bootPollMs = 50;

export class FileHost implements Hypervisor {
  readonly node: string;
  readonly layout: Layout;
  private readonly now: () => Date;

  constructor(options: FileHostOptions) {
    this.node = checkNodeName(options.node);
    this.layout = new Layout(options.root);
    this.now = options.now ?? ((): Date => new Date());
  }

  get testRestoreFolder(): string {
    return `${this.layout.localStorage(this.node)}/test-restores`;
  }

  async getHost(): Promise<HostInfo> {
    const host = await readJson<SimHost>(this.layout.hostFile(this.node), 'host').catch((err: unknown) => {
      throw isCode(err, 'ENOENT')
        ? new HypervisorError('NotFound', `no simulated host ${this.node} under ${this.layout.root}`)
        : err;
    });
    const volumes = await readdir(this.layout.csvDir()).catch((): string[] => []);
    return {
      name: host.name,
      osVersion: host.osVersion,
      hypervVersion: host.hypervVersion,
      logicalProcessors: host.logicalProcessors,
      memoryBytes: host.memoryBytes,
      recoverySnapshots: host.recoverySnapshots,
      ...(host.cluster
        ? {
            cluster: {
              name: host.cluster,
              sharedVolumes: volumes.sort().map((v) => this.layout.csvVolume(v)),
            },
          }
        : {}),
    };
  }

  async listVms(): Promise<VmInfo[]> {
    const host = await this.getHost();
    return (await this.ownedConfigs()).map((vm) => vmInfo(vm, this.layout, host, this.now()));
  }

  async getVm(vmId: string): Promise<VmInfo | undefined> {
    const vm = await this.readVm(vmId);
    return vm?.owner === this.node ? vmInfo(vm, this.layout, await this.getHost(), this.now()) : undefined;
  }

  async createSnapshot(vmId: string, request: SnapshotRequest): Promise<Snapshot> {
    const host = await this.getHost();
    return this.mutate(vmId, async (vm, persist) => {
      if (vm.faults.mergeInProgress) {
        throw new HypervisorError('Busy', `VM ${vm.name} is busy (MergingDisks)`, true);
      }
      const info = vmInfo(vm, this.layout, host, this.now());
      const excluded = excludedDisks(info.disks);
      const covered = vm.disks.filter((d) => !excluded.some((e) => e.diskId === d.id));
      if (covered.length === 0) {
        throw new HypervisorError('Unsupported', `VM ${vm.name} has no virtual disk this host can snapshot`);
      }
      if (vm.faults.snapshotFailure) {
        throw new HypervisorError(
          'SnapshotFailed',
          `Failed to create VM recovery checkpoint for '${vm.name}' (error code 32768)`,
        );
      }
      const consistency = this.plannedConsistency(vm, request);
      const id = randomUUID();
      const folder = `${vm.snapshotLocation}/${vm.id}/${id}`;
      // A paused guest runs no code already: its disks are copied as they lie, like an Off VM's.
      const stopsGuest = request.mode === 'SavedState' && vm.state === 'Running';
      const downtimeStart = Date.now();
      const pointInTime = this.now();
      const disks = await this.whileSaved(vm, stopsGuest, persist, () =>
        freezeDisks(covered, folder, vm.faults.slowDiskMs ?? 0).catch(async (err: unknown) => {
          await rm(folder, { recursive: true, force: true });
          throw err;
        }),
      );
      const checkpoint: SimCheckpoint = {
        id,
        label: request.label,
        createdAt: pointInTime.toISOString(),
        pointInTime: pointInTime.toISOString(),
        consistency,
        downtimeMs: stopsGuest ? Date.now() - downtimeStart : 0,
        disks,
        excludedDisks: excluded,
      };
      const saved = await this.saveConfigurationCopy(vm, id);
      vm.checkpoints.push(checkpoint);
      return this.snapshotOf(vm, checkpoint, saved);
    });
  }

  async getChanges(handle: SnapshotHandle, since: ReferencePoint | undefined): Promise<DiskChanges[]> {
    const vm = await this.ownedVm(handle.vmId);
    const checkpoint = this.checkpointOf(vm, handle.snapshotId);
    const host = await this.getHost();
    const tracking = vmInfo(vm, this.layout, host, this.now()).changeTracking;
    return changesSince(vm, checkpoint, since, tracking);
  }

  async releaseSnapshot(
    handle: SnapshotHandle,
    options: { keepAsReference: boolean },
  ): Promise<ReferencePoint | undefined> {
    return this.mutate(handle.vmId, async (vm) => {
      const checkpoint = vm.checkpoints.find((c) => c.id === handle.snapshotId);
      if (!checkpoint) {
        return undefined;
      }
      await Promise.all(checkpoint.disks.map((d) => rm(dirname(d.path), { recursive: true, force: true })));
      await rm(this.layout.checkpointDir(vm.id, checkpoint.id), { recursive: true, force: true });
      vm.checkpoints = vm.checkpoints.filter((c) => c.id !== checkpoint.id);
      if (!options.keepAsReference) {
        return undefined;
      }
      const reference = {
        id: randomUUID(),
        createdAt: this.now().toISOString(),
        disks: checkpoint.disks.map((d) => ({
          diskId: d.diskId,
          trackingId: rctId(d.trackingId, d.sequence),
        })),
      };
      vm.referencePoints.push(reference);
      return { vmId: vm.id, ...reference };
    });
  }

  async listRecoverySnapshots(): Promise<RecoverySnapshotInfo[]> {
    return (await this.ownedConfigs()).flatMap((vm) =>
      vm.checkpoints.map((c) => ({
        vmId: vm.id,
        vmName: vm.name,
        snapshotId: c.id,
        label: c.label,
        createdAt: new Date(c.createdAt),
      })),
    );
  }

  async destroyReferencePoint(reference: ReferencePoint): Promise<void> {
    await this.mutate(reference.vmId, (vm) => {
      vm.referencePoints = vm.referencePoints.filter((r) => r.id !== reference.id);
      return Promise.resolve();
    }).catch((err: unknown) => {
      if (!(err instanceof HypervisorError && err.code === 'NotFound')) {
        throw err;
      }
    });
  }

  async importVm(request: ImportRequest): Promise<ImportedVm> {
    const source = parseConfiguration(request.configuration);
    // Checked before any file moves: a refused import leaves the staged disks where they were.
    const guestState = request.stateFiles?.find((f) => f.kind === 'GuestState');
    if (source.generation === 2 && !guestState) {
      throw new HypervisorError(
        'InvalidState',
        `the configuration of generation 2 VM ${source.name} comes without its guest state file (.vmgs), which holds its UEFI boot entries; restore it from a recovery point that captured the guest state, or restore its disks (type Disks) and attach them to a new VM`,
      );
    }
    const host = await this.getHost();
    const disks: SimDisk[] = [];
    for (const disk of source.disks) {
      const restored = request.disks.find((d) => d.diskId === disk.id);
      if (disk.path === undefined || disk.shared) {
        continue; // pass-through and shared disks were never in the backup
      }
      if (!restored) {
        throw new HypervisorError(
          'InvalidState',
          `no restored file given for disk ${disk.id} (${disk.controllerType} ${disk.controllerNumber}:${disk.controllerLocation})`,
        );
      }
      const place = this.layout.classify(restored.path);
      await stat(restored.path).catch(() => {
        throw new HypervisorError('NotFound', `restored disk ${restored.path} does not exist`);
      });
      if (place.node !== undefined && place.node !== this.node) {
        throw new HypervisorError(
          'InvalidState',
          `restored disk ${restored.path} is on another node's local storage`,
        );
      }
      disks.push({ ...disk, path: resolve(restored.path), trackingId: randomUUID() });
    }
    if (request.identity === 'New') {
      // Like Import-VM -Copy: the new VM's disks live under its own folder.
      const folder = `${resolve(request.vmPath)}/Virtual Hard Disks`;
      this.layout.classify(folder);
      await mkdir(folder, { recursive: true });
      for (const disk of disks) {
        const moved = `${folder}/${basename(disk.path ?? '')}`;
        await rename(disk.path ?? '', moved);
        disk.path = moved;
      }
    }
    const id = request.identity === 'New' ? randomUUID() : checkVmId(source.id);
    const first = disks[0]?.path;
    if (first === undefined) {
      throw new HypervisorError('InvalidState', 'the configuration has no virtual disk to import');
    }
    // What the firmware found at the original's last start and its network say nothing about the copy.
    const configuration: SimVm = { ...source };
    delete configuration.bootFailure;
    delete configuration.isolatedSwitch;
    const vm: SimVm = {
      ...configuration,
      ...(request.isolatedSwitch === undefined
        ? {}
        : { isolatedSwitch: checkSwitchName(request.isolatedSwitch) }),
      id,
      name: request.newName === undefined ? source.name : checkVmName(request.newName),
      state: 'Off',
      startedAt: this.now().toISOString(),
      owner: this.node,
      clustered:
        source.clustered &&
        host.cluster !== undefined &&
        disks.every((d) => d.path !== undefined && this.layout.classify(d.path).kind !== 'Local'),
      snapshotLocation: dirname(first),
      disks,
      checkpoints: [],
      referencePoints: [],
      faults: {},
    };
    await registerVm(this.layout, vm, guestState?.data);
    const adjustments = vm.isolatedSwitch === undefined ? [] : [isolatedNetworkNote(vm.isolatedSwitch)];
    return { vm: vmInfo(vm, this.layout, host, this.now()), adjustments };
  }

  async unregisterVm(vmId: string): Promise<void> {
    await withLock(this.layout.vmDir(vmId), `VM ${vmId}`, async () => {
      const vm = await this.ownedVm(vmId);
      if (vm.state !== 'Off') {
        throw new HypervisorError(
          'InvalidState',
          `VM ${vm.name} is ${vm.state}; turn it off before removing it`,
        );
      }
      if (vm.checkpoints.length > 0) {
        throw new HypervisorError(
          'InvalidState',
          `VM ${vm.name} still has ${vm.checkpoints.length} checkpoint(s); release them first`,
        );
      }
      // Disk files stay where they are, as Remove-VM leaves them; the lock folder goes with the rest.
      await rm(this.layout.vmDir(vm.id), { recursive: true, force: true });
    });
  }

  async startVm(vmId: string): Promise<void> {
    await this.mutate(vmId, async (vm, persist) => {
      if (vm.state === 'Off') {
        // Like firmware, a start from Off looks for something to boot; resuming a saved VM does not.
        const hasGuestState = await stat(this.layout.guestStateFile(vm.id)).then(
          () => true,
          () => false,
        );
        const problem = await bootProblem(vm, hasGuestState);
        if (problem === undefined) {
          delete vm.bootFailure;
        } else {
          vm.bootFailure = problem;
        }
      }
      await this.transition(vm, 'Running', persist);
    });
  }

  /** Save and pause are not agent operations, but the sim needs every state a real VM can be in. */
  async setPowerState(vmId: string, state: SimState): Promise<void> {
    await this.mutate(vmId, (vm, persist) => this.transition(vm, state, persist));
  }

  async stopVm(vmId: string, options: { force?: boolean } = {}): Promise<void> {
    await this.mutate(vmId, async (vm, persist) => {
      if (!options.force && vm.state !== 'Off' && heartbeatOf(vm, this.now()) !== 'OkApplicationsHealthy') {
        throw new HypervisorError(
          'InvalidState',
          `the guest of ${vm.name} does not answer a shutdown request; stop it with force`,
        );
      }
      await this.transition(vm, 'Off', persist);
    });
  }

  async bootCheck(vmId: string, timeoutMs: number): Promise<BootCheckResult> {
    return awaitHeartbeat((id) => this.getVm(id), vmId, timeoutMs, bootPollMs);
  }

  async liveMigrate(vmId: string, targetNode: string): Promise<void> {
    const target = await readJson<SimHost>(this.layout.hostFile(checkNodeName(targetNode)), 'host').catch(
      () => {
        throw new HypervisorError('NotFound', `no host ${targetNode} in the simulated cluster`);
      },
    );
    const here = await this.getHost();
    await this.mutate(vmId, (vm) => {
      if (!vm.clustered || here.cluster === undefined || target.cluster !== here.cluster.name) {
        throw new HypervisorError(
          'InvalidState',
          `VM ${vm.name} is not a role of a cluster that ${targetNode} belongs to`,
        );
      }
      const local = vm.disks.find(
        (d) => d.path !== undefined && this.layout.classify(d.path).kind === 'Local',
      );
      if (local) {
        throw new HypervisorError(
          'InvalidState',
          `disk ${local.path ?? ''} is on local storage; ${targetNode} cannot reach it`,
        );
      }
      vm.owner = target.name;
      return Promise.resolve();
    });
  }

  async moveStorage(vmId: string, destinationPath: string): Promise<void> {
    const destination = resolve(destinationPath);
    const place = this.layout.classify(destination);
    if (place.node !== undefined && place.node !== this.node) {
      throw new HypervisorError('InvalidState', `${destinationPath} is another node's local storage`);
    }
    await this.mutate(vmId, async (vm) => {
      if (vm.checkpoints.length > 0) {
        throw new HypervisorError(
          'Busy',
          `VM ${vm.name} has a checkpoint in use; move its storage after the backup`,
          true,
        );
      }
      await mkdir(destination, { recursive: true });
      for (const disk of vm.disks) {
        if (disk.path === undefined) {
          continue;
        }
        const target = `${destination}/${basename(disk.path)}`;
        // EXCL: two disks with one file name must not overwrite each other.
        await copyFile(disk.path, target, constants.COPYFILE_EXCL);
        await rm(disk.path);
        await dropChangeLog(disk.path);
        // A moved disk is rewritten: every change-tracking baseline of it is gone.
        disk.path = target;
        disk.trackingId = randomUUID();
      }
      vm.snapshotLocation = destination;
    });
  }

  /** Runs `work` with the VM saved (when `save`), and puts it back in its state afterwards, even on failure. */
  private async whileSaved<T>(
    vm: SimVm,
    save: boolean,
    persist: () => Promise<void>,
    work: () => Promise<T>,
  ): Promise<T> {
    const resumeTo = vm.state;
    if (save) {
      await this.transition(vm, 'Saved', persist);
    }
    try {
      return await work();
    } finally {
      if (save) {
        await this.transition(vm, resumeTo, persist);
      }
    }
  }

  /** Moves the VM to a power state along the transitions Hyper-V allows. */
  private async transition(vm: SimVm, to: SimState, persist: () => Promise<void>): Promise<void> {
    if (vm.state === to) {
      return;
    }
    const allowed: Record<SimState, SimState[]> = {
      Off: ['Running'],
      Running: ['Off', 'Saved', 'Paused'],
      Saved: ['Running', 'Off'],
      Paused: ['Running', 'Off', 'Saved'],
    };
    if (!allowed[vm.state].includes(to)) {
      throw new HypervisorError('InvalidState', `VM ${vm.name} cannot go from ${vm.state} to ${to}`);
    }
    if (vm.state === 'Off') {
      vm.startedAt = this.now().toISOString();
    }
    if (to === 'Saved' || vm.state === 'Saved') {
      await new Promise((r) => setTimeout(r, saveResumeMs));
    }
    vm.state = to;
    await persist();
  }

  private plannedConsistency(vm: SimVm, request: SnapshotRequest): Consistency {
    if (request.mode === 'SavedState') {
      return 'SavedState';
    }
    if (vm.state !== 'Running') {
      throw new HypervisorError(
        'InvalidState',
        `VM ${vm.name} is ${vm.state}; an online snapshot needs it running`,
      );
    }
    const refusal = onlineRefusal(vm, this.now());
    if (!refusal) {
      return 'ApplicationConsistent';
    }
    if (request.allowCrashConsistent) {
      return 'CrashConsistent';
    }
    throw new HypervisorError(
      'GuestNotConsistent',
      `an application-consistent checkpoint of ${vm.name} is not possible: ${refusal.reason}`,
      refusal.transient,
    );
  }

  /** The configuration and guest state as of a checkpoint, copied beside it as Hyper-V does. */
  private async saveConfigurationCopy(
    vm: SimVm,
    checkpointId: string,
  ): Promise<Pick<Snapshot, 'configurationPath' | 'stateFiles'>> {
    const folder = this.layout.checkpointDir(vm.id, checkpointId);
    await mkdir(folder, { recursive: true });
    const configurationPath = `${folder}/vm.json`;
    await writeJsonAtomic(configurationPath, { ...vm, checkpoints: [], referencePoints: [], faults: {} });
    const guestState = `${folder}/guest-state.vmgs`;
    const copied = await copyFile(this.layout.guestStateFile(vm.id), guestState).then(
      () => true,
      (err: unknown) => {
        if (isCode(err, 'ENOENT')) {
          return false; // generation 1 VMs have none
        }
        throw err;
      },
    );
    return {
      configurationPath,
      stateFiles: copied ? [{ kind: 'GuestState', path: guestState }] : [],
    };
  }

  private snapshotOf(
    vm: SimVm,
    checkpoint: SimCheckpoint,
    saved: Pick<Snapshot, 'configurationPath' | 'stateFiles'>,
  ): Snapshot {
    return {
      vmId: vm.id,
      snapshotId: checkpoint.id,
      label: checkpoint.label,
      consistency: checkpoint.consistency,
      pointInTime: new Date(checkpoint.pointInTime),
      downtimeMs: checkpoint.downtimeMs,
      disks: checkpoint.disks.map((d) => {
        const live = vm.disks.find((l) => l.id === d.diskId);
        return {
          diskId: d.diskId,
          controllerType: live?.controllerType ?? 'SCSI',
          controllerNumber: live?.controllerNumber ?? 0,
          controllerLocation: live?.controllerLocation ?? 0,
          sourcePath: live?.path ?? '',
          snapshotPath: d.path,
          format: 'VHDX',
          virtualSize: live?.virtualSize ?? 0,
        };
      }),
      excludedDisks: checkpoint.excludedDisks,
      ...saved,
    };
  }

  private checkpointOf(vm: SimVm, snapshotId: string): SimCheckpoint {
    const checkpoint = vm.checkpoints.find((c) => c.id === snapshotId);
    if (!checkpoint) {
      throw new HypervisorError('NotFound', `VM ${vm.name} has no checkpoint ${snapshotId}`);
    }
    return checkpoint;
  }

  private async readVm(vmId: string): Promise<SimVm | undefined> {
    try {
      return await readJson<SimVm>(this.layout.vmFile(vmId), 'VM');
    } catch (err) {
      if (isCode(err, 'ENOENT') || (err instanceof HypervisorError && err.code === 'NotFound')) {
        return undefined;
      }
      throw err;
    }
  }

  private async ownedVm(vmId: string): Promise<SimVm> {
    const vm = await this.readVm(vmId);
    if (!vm) {
      throw new HypervisorError('NotFound', `VM ${vmId} does not exist`);
    }
    if (vm.owner !== this.node) {
      throw new HypervisorError('NotOwner', `VM ${vm.name} runs on ${vm.owner}, not on ${this.node}`);
    }
    return vm;
  }

  private async ownedConfigs(): Promise<SimVm[]> {
    const ids = await readdir(this.layout.vmsDir()).catch((): string[] => []);
    const vms = await Promise.all(ids.map((id) => this.readVm(id).catch(() => undefined)));
    return vms.filter((vm): vm is SimVm => vm?.owner === this.node);
  }

  /**
   * Runs `change` on the VM's configuration under its lock, after checking that this host owns it,
   * and writes the result back. `persist` writes intermediate states (a VM saved during a backup
   * shows as Saved to everyone while it is).
   */
  private async mutate<T>(
    vmId: string,
    change: (vm: SimVm, persist: () => Promise<void>) => Promise<T>,
  ): Promise<T> {
    const file = this.layout.vmFile(vmId);
    return withLock(this.layout.vmDir(vmId), `VM ${vmId}`, async () => {
      const vm = await this.ownedVm(vmId);
      const persist = (): Promise<void> => writeJsonAtomic(file, vm);
      const result = await change(vm, persist);
      await persist();
      return result;
    });
  }
}

/** Adds a VM to the cluster's registry; fails if a VM with that id is registered already. */
/** A restored configuration, checked to be a simulated VM's before anything trusts its fields. */
function parseConfiguration(bytes: Uint8Array): SimVm {
  let parsed: Partial<SimVm>;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<SimVm>;
  } catch {
    throw new HypervisorError(
      'InvalidState',
      'the restored configuration is not a filehost VM configuration',
    );
  }
  if (parsed.schema !== 1 || typeof parsed.id !== 'string' || !Array.isArray(parsed.disks)) {
    throw new HypervisorError(
      'InvalidState',
      'the restored configuration is not a filehost VM configuration',
    );
  }
  return parsed as SimVm;
}

export async function registerVm(layout: Layout, vm: SimVm, guestState?: Uint8Array): Promise<void> {
  await mkdir(layout.vmsDir(), { recursive: true });
  try {
    await mkdir(layout.vmDir(vm.id));
  } catch (err) {
    if (isCode(err, 'EEXIST')) {
      throw new HypervisorError(
        'InvalidState',
        `a VM with id ${vm.id} is registered already; unregister it first`,
      );
    }
    throw err;
  }
  if (guestState) {
    await writeFile(layout.guestStateFile(vm.id), guestState);
  }
  await writeJsonAtomic(layout.vmFile(vm.id), vm);
}
