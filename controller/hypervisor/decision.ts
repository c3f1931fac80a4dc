/**
 * Which backup a VM can get now, from the requirement table in hyperv-reference.md §1 and the
 * online requirements in domain.md. A pure function of the inventory, so the agent can publish it
 * on every refresh and tests can pin every rule. The mode actually achieved is only known after
 * the snapshot (a guest can still refuse VSS); this is the plan, not the outcome.
 */
import {
  IntegrationServiceId,
  type BackupMode,
  type HostInfo,
  type IntegrationService,
  type VirtualDisk,
  type VmInfo,
} from './types.js';

export type BlockerCode =
  | 'NOT_RUNNING'
  | 'IC_VSS_MISSING'
  | 'IC_VSS_DISABLED'
  | 'IC_VSS_NO_CONTACT'
  | 'IC_OUTDATED'
  | 'GUEST_NOT_BOOTED'
  | 'GUEST_NO_VSS'
  | 'GUEST_DYNAMIC_DISKS'
  | 'GUEST_FILE_SYSTEM'
  | 'GUEST_SHADOW_STORAGE'
  | 'GUEST_PRECONDITION_UNKNOWN'
  | 'CLUSTER_GROUP_OFFLINE'
  | 'SNAPSHOT_LOCATION'
  | 'CHECKPOINTS_DISABLED'
  | 'NO_PROTECTABLE_DISK'
  | 'BUSY';

export interface Blocker {
  code: BlockerCode;
  /** What the finding rules out: an online backup, any backup, or (for `BUSY`) a backup right now. */
  blocks: 'Online' | 'Backup' | 'Now' | 'Nothing';
  /** For people: what is wrong, in the user's words. */
  reason: string;
  /** For people: what to do about it. */
  fix: string;
}

export interface UncoveredDisk {
  diskId: string;
  path: string;
  code: 'PASSTHROUGH_EXCLUDED' | 'SHARED_DISK_UNSUPPORTED' | 'STORAGE_NOT_VISIBLE';
  reason: string;
  fix: string;
}

export interface BackupDecision {
  mode: BackupMode;
  /** Every finding that lowers the mode, in table order; empty for `Online`. */
  blockers: Blocker[];
  /** Transient conditions (merge, migration): the mode stands, but the backup must wait. */
  waitFor: Blocker[];
  /** Findings that change nothing now but may change the outcome (guest facts the host cannot see). */
  warnings: Blocker[];
  /** Disks a host-level backup will not contain; reported, never silently skipped. */
  notCovered: UncoveredDisk[];
}

const healthyHeartbeats = new Set([
  'OkApplicationsUnknown',
  'OkApplicationsHealthy',
  'OkApplicationsCritical',
]);

export function decideBackupMode(vm: VmInfo, host: Pick<HostInfo, 'recoverySnapshots'>): BackupDecision {
  const notCovered = vm.disks.flatMap((d) => uncoveredDisk(d) ?? []);
  const covered = vm.disks.filter((d) => !notCovered.some((u) => u.diskId === d.id));
  const findings = [
    ...availability(vm, host, covered.length),
    ...(vm.state === 'Running' ? guestReadiness(vm) : []),
    ...placement(vm, covered),
  ];
  const blockers = findings.filter((f) => f.blocks === 'Online' || f.blocks === 'Backup');
  const mode: BackupMode = blockers.some((b) => b.blocks === 'Backup')
    ? 'Unprotectable'
    : blockers.length > 0
      ? 'SavedState'
      : 'Online';
  return {
    mode,
    blockers,
    waitFor: vm.busy.map((op) => ({
      code: 'BUSY',
      blocks: 'Now',
      reason: `the VM is busy: ${busyWords[op]}`,
      fix: 'wait for the operation to finish; the backup starts afterwards',
    })),
    // Unknown guest facts matter only when an online backup is planned.
    warnings: mode === 'Online' ? findings.filter((f) => f.blocks === 'Nothing') : [],
    notCovered,
  };
}

const busyWords = {
  MergingDisks: 'a checkpoint merge is in progress',
  Migrating: 'a live migration is in progress',
  BackingUp: 'another backup is in progress',
  StorageMigration: 'a storage migration is in progress',
} as const;

/** Why a host-level snapshot will not contain this disk, or undefined when it will. */
export function uncoveredDisk(disk: VirtualDisk): UncoveredDisk | undefined {
  const at = `${disk.controllerType} ${disk.controllerNumber}:${disk.controllerLocation}`;
  if (disk.storage === 'PassThrough') {
    return {
      diskId: disk.id,
      path: disk.path,
      code: 'PASSTHROUGH_EXCLUDED',
      reason: `pass-through disk ${disk.path} at ${at} is not captured by host-level backup`,
      fix: 'protect the data on this disk with a backup inside the guest, or convert it to a VHDX',
    };
  }
  if (disk.storage === 'Shared') {
    return {
      diskId: disk.id,
      path: disk.path,
      code: 'SHARED_DISK_UNSUPPORTED',
      reason: `shared virtual disk ${disk.path} at ${at} belongs to a guest cluster and needs a collection snapshot`,
      fix: 'protect the guest cluster from inside the guest',
    };
  }
  if (!disk.visible) {
    return {
      diskId: disk.id,
      path: disk.path,
      code: 'STORAGE_NOT_VISIBLE',
      reason: `disk ${disk.path} at ${at} is on storage this host cannot read`,
      fix: "move the disk to a Cluster Shared Volume or an SMB share every node can reach, or grant the host's computer account access",
    };
  }
  return undefined;
}

function backupService(vm: VmInfo): IntegrationService | undefined {
  return vm.integrationServices.find((s) => s.id.toUpperCase() === IntegrationServiceId.backup);
}

/** Requirements that depend on the VM's configuration and power state. */
function availability(
  vm: VmInfo,
  host: Pick<HostInfo, 'recoverySnapshots'>,
  coveredDisks: number,
): Blocker[] {
  const found: Blocker[] = [];
  if (coveredDisks === 0) {
    found.push({
      code: 'NO_PROTECTABLE_DISK',
      blocks: 'Backup',
      reason: 'the VM has no virtual disk a host-level backup can capture',
      fix: 'protect this VM with a backup inside the guest',
    });
  }
  // Recovery snapshots (2016+) are not checkpoints the user can disable (inf., hyperv-reference §1);
  // the 2012 R2 checkpoint flow needs checkpoints.
  if (vm.checkpointType === 'Disabled' && !host.recoverySnapshots) {
    found.push({
      code: 'CHECKPOINTS_DISABLED',
      blocks: 'Backup',
      reason: 'checkpoints have been disabled for this VM',
      fix: 'enable checkpoints: Set-VM -CheckpointType Production',
    });
  }
  if (vm.state !== 'Running') {
    found.push({
      code: 'NOT_RUNNING',
      blocks: 'Online',
      reason: `the VM is ${vm.state.toLowerCase()}, and only a running VM can take an application-consistent backup`,
      fix: 'start the VM for online backups; while it is not running it is backed up as it lies on disk',
    });
  }
  const backup = backupService(vm);
  if (!backup) {
    found.push({
      code: 'IC_VSS_MISSING',
      blocks: 'Online',
      reason: 'the VM has no Backup (volume shadow copy) integration service',
      fix: 'install the Hyper-V integration services in the guest',
    });
  } else if (!backup.enabled) {
    found.push({
      code: 'IC_VSS_DISABLED',
      blocks: 'Online',
      reason: 'the Backup (volume shadow copy) integration service is disabled',
      fix: 'enable the Backup (volume shadow copy) integration service: Enable-VMIntegrationService',
    });
  }
  return found;
}

/** Requirements that only a running guest can meet. */
function guestReadiness(vm: VmInfo): Blocker[] {
  const found: Blocker[] = [];
  const backup = backupService(vm);
  if (backup?.enabled && backup.status === 'ProtocolMismatch') {
    found.push(outdated());
  } else if (backup?.enabled && backup.status !== 'Ok') {
    found.push({
      code: 'IC_VSS_NO_CONTACT',
      blocks: 'Online',
      reason: `the guest does not answer the Backup integration service (status ${backup.status})`,
      fix: 'start the guest VSS service (vmicvss on Windows, hv_vss_daemon on Linux) or reinstall integration services',
    });
  }
  if (!healthyHeartbeats.has(vm.heartbeat)) {
    found.push({
      code: 'GUEST_NOT_BOOTED',
      blocks: 'Online',
      reason: `the guest has not finished booting or does not answer the heartbeat (${vm.heartbeat})`,
      fix: 'wait for the guest to boot, or enable the Heartbeat integration service',
    });
  }
  if (vm.guest.integrationComponentsOutdated && backup?.status !== 'ProtocolMismatch') {
    found.push(outdated());
  }
  const guestFacts: [boolean | undefined, BlockerCode, string, string][] = [
    [
      vm.guest.vssCapable === undefined ? undefined : !vm.guest.vssCapable,
      'GUEST_NO_VSS',
      `the guest OS (${vm.guest.os}) cannot take part in a shadow copy`,
      'upgrade the guest OS, or accept saved-state backups',
    ],
    [
      vm.guest.dynamicDisks,
      'GUEST_DYNAMIC_DISKS',
      'the guest uses dynamic disks',
      'convert the guest disks to basic disks',
    ],
    [
      vm.guest.nonSnapshotFileSystem,
      'GUEST_FILE_SYSTEM',
      'a guest volume is neither NTFS nor ReFS',
      'format the guest volumes with NTFS or ReFS',
    ],
    [
      vm.guest.shadowStorageElsewhere,
      'GUEST_SHADOW_STORAGE',
      "the guest's shadow storage was moved to another volume",
      "put each volume's shadow storage back on the volume itself (vssadmin resize shadowstorage)",
    ],
  ];
  for (const [fails, code, reason, fix] of guestFacts) {
    if (fails === true) {
      found.push({ code, blocks: 'Online', reason, fix });
    }
  }
  const unknown = guestFacts.filter(([fails]) => fails === undefined).map(([, code]) => code);
  if (unknown.length > 0) {
    found.push({
      code: 'GUEST_PRECONDITION_UNKNOWN',
      blocks: 'Nothing',
      reason: `the host cannot see inside the guest (${unknown.join(', ')}); the snapshot tells whether it was application-consistent`,
      fix: 'nothing to do unless backups come out crash-consistent',
    });
  }
  if (vm.cluster && vm.cluster.groupState !== 'Online') {
    found.push({
      code: 'CLUSTER_GROUP_OFFLINE',
      blocks: 'Online',
      reason: `the VM's cluster role is ${vm.cluster.groupState}`,
      fix: 'bring the cluster role online (Start-ClusterGroup)',
    });
  }
  return found;
}

function outdated(): Blocker {
  return {
    code: 'IC_OUTDATED',
    blocks: 'Online',
    reason: "the guest's integration services are older than the host's",
    fix: 'update the integration services in the guest',
  };
}

/** The snapshot files must land on the volume of every disk the snapshot covers. */
function placement(vm: VmInfo, covered: VirtualDisk[]): Blocker[] {
  const elsewhere = covered.filter((d) => !sameVolume(d.volume, vm.snapshotVolume));
  if (elsewhere.length === 0) {
    return [];
  }
  return [
    {
      code: 'SNAPSHOT_LOCATION',
      blocks: 'Online',
      reason: `the snapshot file location ${vm.snapshotLocation} is not on the volume of ${elsewhere.map((d) => d.path).join(', ')}`,
      fix: "move the VM's snapshot file location to the volume that holds its virtual disks",
    },
  ];
}

/** The disks a snapshot leaves out, as a snapshot reports them. */
export function excludedDisks(disks: readonly VirtualDisk[]): { diskId: string; reason: string }[] {
  return disks.flatMap((d) => {
    const why = uncoveredDisk(d);
    return why ? [{ diskId: d.id, reason: why.reason }] : [];
  });
}

/** Windows volume roots compare case-insensitively and with or without a trailing separator. */
export function sameVolume(a: string, b: string): boolean {
  const norm = (p: string): string => p.replace(/[\\/]+$/, '').toLowerCase();
  return norm(a) === norm(b);
}
