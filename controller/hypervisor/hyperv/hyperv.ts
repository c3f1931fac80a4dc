/**
 * `hyperv`: the `Hypervisor` backend for a real Windows Hyper-V host, driving PowerShell and CIM
 * through fixed scripts (scripts.ts) with arguments passed as data (powershell.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { win32 } from 'node:path';
import { awaitHeartbeat, isolatedNetworkNote } from '../boot-check.js';
import { excludedDisks } from '../decision.js';
import { checkSwitchName, checkVmName } from '../names.js';
import { mergeRanges } from '../ranges.js';
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
  type StateFile,
  type StateFileKind,
  type VmInfo,
} from '../types.js';
import { asArray, date, isObject, malformed, num, optStr, str, strings, type Json } from './decode.js';
import { hostFromJson, vmsFromJson } from './inventory.js';
import { checkGuid, checkWindowsPath, normalizeDiskId } from './paths.js';
import { execaRunner, invokePowerShell, type PowerShellRunner } from './powershell.js';
import { scripts, type Operation } from './scripts.js';

export interface HyperVOptions {
  /** The Kubernetes node name of this host. */
  node: string;
  runner?: PowerShellRunner;
  /** Limit for inventory and small calls; a hung PowerShell is killed after it. */
  timeoutMs?: number;
  /** Limit for snapshot, release and migration calls, which wait for Hyper-V jobs. */
  longTimeoutMs?: number;
  /** How long host facts are reused between inventory refreshes. */
  hostCacheMs?: number;
  /** Writes a restored configuration file on this host (the agent runs there); replaced in tests. */
  writeFile?: (path: string, data: Uint8Array) => Promise<void>;
  /** Folder for boot-test VMs when a restore names none (default C:\ProgramData\Shadowkeep\Test Restores). */
  testRestoreFolder?: string;
}

/** Writes a file at a Windows path, creating its folder, as the agent on the host does. */
async function writeHostFile(path: string, data: Uint8Array): Promise<void> {
  await mkdir(win32.dirname(path), { recursive: true });
  await writeFile(path, data, { flag: 'wx' });
}

const snapshotIdPattern = /^(?:Microsoft:[0-9A-Fa-f-]{36}|[0-9a-f-]{36})$/;
const nodePattern = /^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/;
const mergeWaitSeconds = 600;
const stateExtensions: Record<StateFileKind, string> = { GuestState: '.vmgs', RuntimeState: '.vmrs' };
const vmcxName = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\.vmcx$/;

export class HyperVHost implements Hypervisor {
  readonly node: string;
  readonly testRestoreFolder: string;
  private readonly runner: PowerShellRunner;
  private readonly timeoutMs: number;
  private readonly longTimeoutMs: number;
  private readonly hostCacheMs: number;
  private readonly writeFile: (path: string, data: Uint8Array) => Promise<void>;
  private hostCache: { at: number; host: Promise<HostInfo> } | undefined;
  /** Snapshots this process made and has not released: getChanges needs their frozen disk paths. */
  private readonly open = new Map<string, Snapshot>();

  constructor(options: HyperVOptions) {
    this.node = options.node;
    this.runner = options.runner ?? execaRunner();
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.longTimeoutMs = options.longTimeoutMs ?? 3_600_000;
    this.hostCacheMs = options.hostCacheMs ?? 300_000;
    this.writeFile = options.writeFile ?? writeHostFile;
    this.testRestoreFolder = checkWindowsPath(
      options.testRestoreFolder ?? 'C:\\ProgramData\\Shadowkeep\\Test Restores',
      'test-restore folder',
    );
  }

  getHost(): Promise<HostInfo> {
    const now = Date.now();
    if (!this.hostCache || now - this.hostCache.at > this.hostCacheMs) {
      const host = this.call('host', {}).then((json) => hostFromJson(json, this.node));
      // A failed lookup is not cached: the next call tries again.
      host.catch(() => {
        this.hostCache = undefined;
      });
      this.hostCache = { at: now, host };
    }
    return this.hostCache.host;
  }

  async listVms(): Promise<VmInfo[]> {
    const host = await this.getHost();
    const vms = vmsFromJson(await this.call('vms', { vmId: null }), { node: this.node, host });
    return vms.filter((vm) => vm.ownerNode === this.node);
  }

  async getVm(vmId: string): Promise<VmInfo | undefined> {
    const host = await this.getHost();
    const id = checkGuid(vmId, 'VM id');
    const vm = vmsFromJson(await this.call('vms', { vmId: id }), { node: this.node, host }).find(
      (v) => v.id === id,
    );
    return vm?.ownerNode === this.node ? vm : undefined;
  }

  async createSnapshot(vmId: string, request: SnapshotRequest): Promise<Snapshot> {
    const vm = await this.ownedVm(vmId);
    const host = await this.getHost();
    if (request.mode === 'Online' && vm.state !== 'Running') {
      throw new HypervisorError(
        'InvalidState',
        `VM ${vm.name} is ${vm.state}; an online snapshot needs it running`,
      );
    }
    // Recovery snapshots need 2016+ and configuration version 8.0; older VMs use checkpoints.
    const method = vm.changeTracking ? 'Recovery' : 'Checkpoint';
    if (request.mode === 'Online' && !host.recoverySnapshots && !request.allowCrashConsistent) {
      throw new HypervisorError(
        'Unsupported',
        'application-consistent backups on hosts before Windows Server 2016 need a VSS requester, which this agent does not have',
      );
    }
    const attempt = (consistency: 'Application' | 'Crash'): Promise<Json> =>
      this.call(
        'snapshot',
        { vmId: vm.id, method, consistency, save: request.mode === 'SavedState', label: request.label },
        this.longTimeoutMs,
      );
    const online = request.mode === 'Online' && host.recoverySnapshots;
    let json: Json;
    try {
      json = await attempt(online ? 'Application' : 'Crash');
    } catch (err) {
      // nxmBackup's fallback, only where the policy allows a weaker recovery point.
      if (!(
        online &&
        request.allowCrashConsistent &&
        err instanceof HypervisorError &&
        err.code === 'GuestNotConsistent'
      )) {
        throw err;
      }
      json = await attempt('Crash');
    }
    const snapshot = this.snapshotFromJson(json, vm, request);
    this.open.set(snapshot.snapshotId, snapshot);
    return snapshot;
  }

  async getChanges(handle: SnapshotHandle, since: ReferencePoint | undefined): Promise<DiskChanges[]> {
    const snapshot = this.open.get(handle.snapshotId);
    if (!snapshot) {
      throw new HypervisorError(
        'NotFound',
        `snapshot ${handle.snapshotId} was not made by this agent process`,
      );
    }
    const vm = await this.ownedVm(handle.vmId);
    const all = (
      diskId: string,
      reason: 'NoReference' | 'TrackingLost' | 'Unsupported',
      detail: string,
    ): DiskChanges => ({ kind: 'All', diskId, reason, detail });
    if (!vm.changeTracking) {
      return snapshot.disks.map((d) =>
        all(
          d.diskId,
          'Unsupported',
          'resilient change tracking needs Windows Server 2016 and configuration version 8.0',
        ),
      );
    }
    const paired = snapshot.disks.map((d) => ({
      disk: d,
      base: since?.vmId === vm.id ? since.disks.find((b) => b.diskId === d.diskId) : undefined,
    }));
    const queried = paired.filter((p) => p.base !== undefined);
    const results =
      queried.length === 0
        ? []
        : asArray(
            await this.call(
              'changes',
              { disks: queried.map((p) => ({ path: p.disk.snapshotPath, rctId: p.base?.trackingId ?? '' })) },
              this.longTimeoutMs,
            ),
          );
    return paired.map(({ disk, base }) => {
      if (!base) {
        return all(
          disk.diskId,
          'NoReference',
          since
            ? 'the disk was added after the reference point'
            : 'no earlier recovery point of this VM to compare with',
        );
      }
      const result = results[queried.findIndex((q) => q.disk === disk)];
      if (!isObject(result)) {
        throw malformed('changes', result);
      }
      const code = num(result, 'ReturnValue', 'changes');
      if (code !== 0) {
        // 32779: the RCT id is unknown (reference point gone, disk moved); 32775: invalid state.
        return all(disk.diskId, 'TrackingLost', `GetVirtualDiskChanges returned ${code}`);
      }
      const offsets = asArray(result.ChangedByteOffsets);
      const lengths = asArray(result.ChangedByteLengths);
      const ranges = offsets.map((offset, i) => ({
        offset: Number(offset),
        length: Number(lengths[i] ?? 0),
      }));
      return { kind: 'Ranges', diskId: disk.diskId, ranges: mergeRanges(ranges) };
    });
  }

  async releaseSnapshot(
    handle: SnapshotHandle,
    options: { keepAsReference: boolean },
  ): Promise<ReferencePoint | undefined> {
    if (!snapshotIdPattern.test(handle.snapshotId)) {
      throw new HypervisorError('NotFound', `${JSON.stringify(handle.snapshotId)} is not a snapshot id`);
    }
    const json = await this.call(
      'release',
      {
        vmId: checkGuid(handle.vmId, 'VM id'),
        snapshotId: handle.snapshotId,
        keep: options.keepAsReference,
        mergeSeconds: mergeWaitSeconds,
      },
      this.longTimeoutMs,
    );
    this.open.delete(handle.snapshotId);
    if (!isObject(json)) {
      return undefined;
    }
    const rctIds = strings(json.ResilientChangeTrackingIdentifiers, 'reference point RCT ids');
    return {
      id: str(json, 'InstanceID', 'reference point'),
      vmId: handle.vmId.toLowerCase(),
      createdAt:
        json.CreationTime === undefined || json.CreationTime === null
          ? new Date().toISOString()
          : parseCimDate(json.CreationTime).toISOString(),
      // Paired by identifier, never by position (nxmBackup's index pairing breaks when disks change).
      disks: strings(json.VirtualDiskIdentifiers, 'reference point disks').map((id, i) => ({
        diskId: normalizeDiskId(id),
        trackingId: rctIds[i] ?? '',
      })),
    };
  }

  async listRecoverySnapshots(): Promise<RecoverySnapshotInfo[]> {
    return asArray(await this.call('recoverySnapshots', {})).map((item) => {
      if (!isObject(item)) {
        throw malformed('recovery snapshot', item);
      }
      return {
        vmId: str(item, 'VMId', 'recovery snapshot'),
        vmName: str(item, 'VMName', 'recovery snapshot'),
        snapshotId: str(item, 'SnapshotId', 'recovery snapshot'),
        label: optStr(item, 'Name') ?? '',
        createdAt: date(item.CreationTime, 'recovery snapshot'),
      };
    });
  }

  async destroyReferencePoint(reference: ReferencePoint): Promise<void> {
    await this.call('destroyReferencePoint', {
      vmId: checkGuid(reference.vmId, 'VM id'),
      referenceId: reference.id,
    }).catch((err: unknown) => {
      if (!(err instanceof HypervisorError && err.code === 'NotFound')) {
        throw err;
      }
    });
  }

  async importVm(request: ImportRequest): Promise<ImportedVm> {
    if (!vmcxName.test(request.configurationName)) {
      throw new HypervisorError(
        'InvalidState',
        `${JSON.stringify(request.configurationName)} is not a Hyper-V configuration file name (<GUID>.vmcx)`,
      );
    }
    const vmPath = checkWindowsPath(request.vmPath, 'VM folder').replace(/\\+$/, '');
    const newId = request.identity === 'New';
    // Register (same ID) keeps the configuration where Hyper-V itself keeps it; a copy (new ID) is
    // imported from a staging folder that Import-VM -Copy reads and the agent removes afterwards.
    const configurationPath = `${vmPath}\\${newId ? 'Staging' : 'Virtual Machines'}\\${request.configurationName}`;
    const args = {
      configurationPath,
      vmPath,
      newId,
      newName: request.newName === undefined ? null : checkVmName(request.newName),
      isolatedSwitch: request.isolatedSwitch === undefined ? null : checkSwitchName(request.isolatedSwitch),
      disks: request.disks.map((d) => ({
        slot: `${d.controllerType}:${d.controllerNumber}:${d.controllerLocation}`,
        path: checkWindowsPath(d.path, 'disk'),
      })),
    };
    await this.writeFile(configurationPath, request.configuration);
    for (const state of request.stateFiles ?? []) {
      // Compare-VM finds the guest and runtime state by the configuration's name.
      await this.writeFile(configurationPath.replace(/\.vmcx$/i, stateExtensions[state.kind]), state.data);
    }
    const result = await this.call('importVm', args, this.longTimeoutMs);
    if (!isObject(result)) {
      throw malformed('importVm', result);
    }
    const switches = strings(result.DisconnectedSwitches, 'importVm DisconnectedSwitches');
    return {
      vm: await this.ownedVm(checkGuid(str(result, 'Id', 'importVm'), 'VM id')),
      adjustments: [
        ...switches.map(
          (s) =>
            `network adapter disconnected: this host has no virtual switch ${JSON.stringify(s)}; connect it with Connect-VMNetworkAdapter`,
        ),
        ...(args.isolatedSwitch === null ? [] : [isolatedNetworkNote(args.isolatedSwitch)]),
      ],
    };
  }

  async unregisterVm(vmId: string): Promise<void> {
    await this.call('unregister', { vmId: checkGuid(vmId, 'VM id') });
  }

  async startVm(vmId: string): Promise<void> {
    await this.call('start', { vmId: checkGuid(vmId, 'VM id') }, this.longTimeoutMs);
  }

  async stopVm(vmId: string, options: { force?: boolean } = {}): Promise<void> {
    await this.call(
      'stop',
      { vmId: checkGuid(vmId, 'VM id'), force: options.force === true },
      this.longTimeoutMs,
    );
  }

  bootCheck(vmId: string, timeoutMs: number): Promise<BootCheckResult> {
    return awaitHeartbeat((id) => this.getVm(id), vmId, timeoutMs, 5_000);
  }

  async liveMigrate(vmId: string, targetNode: string): Promise<void> {
    if (!nodePattern.test(targetNode)) {
      throw new HypervisorError('InvalidState', `${JSON.stringify(targetNode)} is not a node name`);
    }
    await this.call('liveMigrate', { vmId: checkGuid(vmId, 'VM id'), node: targetNode }, this.longTimeoutMs);
  }

  async moveStorage(vmId: string, destinationPath: string): Promise<void> {
    await this.call(
      'moveStorage',
      { vmId: checkGuid(vmId, 'VM id'), path: checkWindowsPath(destinationPath, 'destination') },
      this.longTimeoutMs,
    );
  }

  private call(operation: Operation, args: Json, timeoutMs = this.timeoutMs): Promise<Json> {
    return invokePowerShell(this.runner, operation, scripts[operation], args, timeoutMs);
  }

  private async ownedVm(vmId: string): Promise<VmInfo> {
    const vm = await this.getVm(vmId);
    if (!vm) {
      throw new HypervisorError('NotFound', `VM ${vmId} is not on host ${this.node}`);
    }
    return vm;
  }

  private snapshotFromJson(json: Json, vm: VmInfo, request: SnapshotRequest): Snapshot {
    if (!isObject(json)) {
      throw malformed('snapshot', json);
    }
    const level = num(json, 'ConsistencyLevel', 'snapshot');
    const consistency: Consistency =
      request.mode === 'SavedState'
        ? 'SavedState'
        : level === 1
          ? 'ApplicationConsistent'
          : 'CrashConsistent';
    const frozen = asArray(json.Disks).filter((p): p is string => typeof p === 'string');
    return {
      vmId: vm.id,
      snapshotId: str(json, 'SnapshotId', 'snapshot'),
      label: request.label,
      consistency,
      pointInTime: parseCimDate(json.CreationTime),
      downtimeMs: num(json, 'DowntimeMs', 'snapshot'),
      disks: frozen.map((path) => {
        // The frozen file is the disk the VM used until the snapshot switched it to an AVHDX.
        const live = vm.disks.find((d) => d.path.toLowerCase() === path.toLowerCase());
        if (!live) {
          throw new HypervisorError('HostError', `snapshot disk ${path} matches none of the VM's disks`);
        }
        return {
          diskId: live.id,
          controllerType: live.controllerType,
          controllerNumber: live.controllerNumber,
          controllerLocation: live.controllerLocation,
          sourcePath: live.path,
          snapshotPath: path,
          format: live.format,
          virtualSize: live.virtualSize,
        };
      }),
      excludedDisks: excludedDisks(vm.disks),
      configurationPath: str(json, 'ConfigurationPath', 'snapshot'),
      stateFiles: stateFilesFromJson(json.StateFiles),
    };
  }
}

/** StateFiles of a snapshot: absent in output from before the field existed, which means none. */
function stateFilesFromJson(value: Json | undefined): StateFile[] {
  return asArray(value).map((entry) => {
    if (!isObject(entry)) {
      throw malformed('snapshot StateFiles', entry);
    }
    const kind = str(entry, 'Kind', 'snapshot StateFiles');
    if (kind !== 'GuestState' && kind !== 'RuntimeState') {
      throw malformed('snapshot StateFiles Kind', kind);
    }
    return { kind, path: checkWindowsPath(str(entry, 'Path', 'snapshot StateFiles'), 'state file') };
  });
}

/** CIM datetimes arrive as CIM strings (`20231114221320.000000+000`) or as PowerShell dates. */
function parseCimDate(value: Json | undefined): Date {
  if (typeof value === 'string') {
    const cim = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})\.(\d{3})\d{3}([+-]\d{3})$/.exec(value);
    if (cim) {
      const [, y, mo, d, h, mi, s, ms, offset] = cim;
      return new Date(
        Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number(ms)) -
          Number(offset) * 60_000,
      );
    }
  }
  return date(value, 'CIM date');
}
