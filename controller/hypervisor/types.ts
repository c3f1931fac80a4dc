/**
 * The host agent's view of a hypervisor: plain domain types and the `Hypervisor` interface that the
 * `hyperv` (PowerShell/CIM) and `filehost` (Linux stand-in) backends implement. Nothing here knows
 * about Kubernetes: the agent maps these onto HyperVHost / HyperVVirtualMachine / RecoveryPoint.
 */

/** VM power states the agent reasons about; Hyper-V's transitional and version-specific states map to `Other`. */
export type VmState = 'Running' | 'Off' | 'Saved' | 'Paused' | 'Starting' | 'Stopping' | 'Saving' | 'Other';

/**
 * Integration services by ID (the suffix of `Get-VMIntegrationService`'s Id). Names are localized
 * ("Takt" is Heartbeat on a German host), so nothing may match them by name.
 */
export const IntegrationServiceId = {
  backup: '5CED1297-4598-4915-A5FC-AD21BB4D02A4',
  heartbeat: '84EAAE65-2F2E-45F5-9BB5-0E857DC8EB47',
  shutdown: '9F8233AC-BE49-4C79-8EE3-E7E1985B2077',
  timeSync: '2497F4DE-E9FA-4204-80E4-4B75C46419C0',
  keyValuePair: 'A9A0F4E7-5A45-4D96-B827-8A841E8C03E6',
  guestServices: '6C09BB55-D683-4DA0-8931-C9BF705F6480',
} as const;

/** `PrimaryOperationalStatus` of an integration service, by name. */
export type IntegrationServiceStatus =
  | 'Ok'
  | 'Degraded'
  | 'Error'
  | 'NonRecoverableError'
  | 'NoContact'
  | 'LostCommunication'
  | 'ProtocolMismatch'
  | 'Disabled'
  | 'Unknown';

export interface IntegrationService {
  /** Upper-case GUID, one of `IntegrationServiceId` for the services the agent cares about. */
  id: string;
  /** Display name as the host reports it (possibly localized): for people only. */
  name: string;
  enabled: boolean;
  status: IntegrationServiceStatus;
}

export type HeartbeatStatus =
  | 'Unknown'
  | 'Disabled'
  | 'NoContact'
  | 'Error'
  | 'LostCommunication'
  | 'OkApplicationsUnknown'
  | 'OkApplicationsHealthy'
  | 'OkApplicationsCritical'
  | 'Paused';

/** Where a disk's bytes live, which decides who can read them and whether a snapshot covers them. */
export type StorageKind = 'Local' | 'CSV' | 'SMB' | 'PassThrough' | 'Shared';

export type DiskFormat = 'VHDX' | 'VHD' | 'VHDSet' | 'Physical';

/** Where a disk is attached: how a restored disk finds its place in an imported VM. */
export interface DiskSlot {
  controllerType: 'IDE' | 'SCSI' | 'PMEM';
  controllerNumber: number;
  controllerLocation: number;
}

export interface VirtualDisk extends DiskSlot {
  /** Stable identity of the disk (Hyper-V's VirtualDiskIdentifier); pairs disks across backups, never by index. */
  id: string;
  /** Host path of the virtual disk file; for a pass-through disk, a description such as `PhysicalDisk3`. */
  path: string;
  format: DiskFormat;
  storage: StorageKind;
  /** Root of the volume the file lives on (`C:\`, `C:\ClusterStorage\Volume1`, `\\server\share`). */
  volume: string;
  /** Virtual size in bytes; 0 when the host cannot tell (pass-through disk, disk it cannot see). */
  virtualSize: number;
  /** False when this host cannot open the file (another node's local disk, an unreachable share). */
  visible: boolean;
}

/**
 * What is known about the guest. Facts the host cannot observe are `undefined` (unknown), never
 * guessed: the decision then warns, and the achieved consistency comes from the snapshot outcome.
 */
export interface GuestInfo {
  os: string;
  family: 'Windows' | 'Linux' | 'Unknown';
  /** The guest can take part in an online backup (VSS in Windows, hv_vss_daemon freeze in Linux). */
  vssCapable?: boolean;
  dynamicDisks?: boolean;
  /** Some guest volume is neither NTFS nor ReFS. */
  nonSnapshotFileSystem?: boolean;
  /** The guest's shadow storage was moved to another volume. */
  shadowStorageElsewhere?: boolean;
  /** The guest's integration components are older than the host's. */
  integrationComponentsOutdated?: boolean;
}

/** Long-running host operations that make a backup wait (`OperationalStatus` 32772/32774/32776/32778). */
export type BusyOperation = 'MergingDisks' | 'Migrating' | 'BackingUp' | 'StorageMigration';

export type CheckpointType = 'Disabled' | 'Production' | 'ProductionOnly' | 'Standard';

export interface ClusterMembership {
  clusterName: string;
  ownerNode: string;
  /** State of the VM's cluster group (role): an online backup of a clustered VM needs `Online`. */
  groupState: 'Online' | 'Offline' | 'PartialOnline' | 'Failed' | 'Pending' | 'Unknown';
}

export interface VmInfo {
  /** Hyper-V VMId (lower-case GUID): the key that stays stable across live migration and rename. */
  id: string;
  name: string;
  state: VmState;
  generation: 1 | 2;
  /** Configuration version ("9.0"); RCT needs 8.0 or later. */
  configurationVersion: string;
  guest: GuestInfo;
  heartbeat: HeartbeatStatus;
  integrationServices: IntegrationService[];
  disks: VirtualDisk[];
  checkpointType: CheckpointType;
  /** Where checkpoint files go; online backup needs it on the same volume as each disk. */
  snapshotLocation: string;
  /** Volume root of `snapshotLocation`. */
  snapshotVolume: string;
  /** Folder holding the VM's configuration. */
  configurationPath: string;
  busy: BusyOperation[];
  /** Set when the VM is a clustered role; `undefined` for a standalone VM. */
  cluster?: ClusterMembership;
  /** The node running the VM now; only its agent may act on the VM. */
  ownerNode: string;
  /** Resilient change tracking is usable for this VM (2016+ host, version >= 8.0, upgraded cluster). */
  changeTracking: boolean;
  /** Number of user (standard/production) checkpoints the VM has; they make the disk chain longer. */
  userCheckpoints: number;
}

export interface HostInfo {
  /** Node name, as Kubernetes knows it. */
  name: string;
  osVersion: string;
  hypervVersion: string;
  logicalProcessors: number;
  memoryBytes: number;
  /** WMI recovery snapshots and reference points are available (Windows Server 2016 and later). */
  recoverySnapshots: boolean;
  cluster?: { name: string; sharedVolumes: string[] };
}

/** The backup mode a VM can get now, from the requirement table of hyperv-reference.md §1. */
export type BackupMode = 'Online' | 'SavedState' | 'Unprotectable';

/** What a finished snapshot actually achieved; recorded on the recovery point. */
export type Consistency = 'ApplicationConsistent' | 'SavedState' | 'CrashConsistent';

export interface ByteRange {
  offset: number;
  length: number;
}

/** Changed ranges of one disk, or why the whole disk must be read (a full copy or a consistency check). */
export type DiskChanges =
  | { kind: 'Ranges'; diskId: string; ranges: ByteRange[] }
  | { kind: 'All'; diskId: string; reason: 'NoReference' | 'TrackingLost' | 'Unsupported'; detail: string };

/**
 * A reference point: the RCT baseline a later snapshot's changes are computed against. Serializable,
 * so the agent stores it with the recovery point and any node that later owns the VM can use it.
 */
export interface ReferencePoint {
  id: string;
  vmId: string;
  createdAt: string;
  disks: { diskId: string; trackingId: string }[];
}

export interface SnapshotRequest {
  /**
   * `Online`: application-consistent through the guest (production-only checkpoint or WMI recovery
   * snapshot with ConsistencyLevel 1); fails rather than falling back, unless `allowCrashConsistent`.
   * `SavedState`: save the VM, snapshot, resume (downtime measured); for an Off VM no downtime.
   */
  mode: 'Online' | 'SavedState';
  /** Let an online snapshot that the guest cannot make consistent fall back to crash-consistent. */
  allowCrashConsistent?: boolean;
  /**
   * Label for the checkpoint (e.g. the RecoveryPoint name), so stale ones can be recognised. Hyper-V
   * names WMI recovery snapshots itself ("<vm> - Backup - (<time>)"); there the label is only echoed.
   */
  label: string;
}

export interface SnapshotDisk extends DiskSlot {
  diskId: string;
  /** The live disk this snapshot froze. */
  sourcePath: string;
  /** A file holding the disk exactly as of the point in time, readable while the VM keeps running. */
  snapshotPath: string;
  format: DiskFormat;
  virtualSize: number;
}

export interface SnapshotHandle {
  vmId: string;
  snapshotId: string;
}

export interface Snapshot extends SnapshotHandle {
  label: string;
  consistency: Consistency;
  pointInTime: Date;
  /** Time the VM was not running because of this snapshot (saved-state mode), in milliseconds. */
  downtimeMs: number;
  disks: SnapshotDisk[];
  /** Disks the snapshot does not contain (pass-through, shared, not visible), with the reason. */
  excludedDisks: { diskId: string; reason: string }[];
  /** The VM's configuration as of the snapshot, a readable file (vmcx on Hyper-V, vm.json on filehost). */
  configurationPath: string;
  /** The state files beside that configuration, as of the snapshot, that the VM has. */
  stateFiles: StateFile[];
}

/**
 * Files Hyper-V keeps beside a VM's configuration that a whole-VM restore needs back: the guest
 * state (`.vmgs`: UEFI variables and boot entries, Secure Boot keys, the virtual TPM) and the
 * runtime state (`.vmrs`). A generation 2 VM cannot be registered without its guest state.
 */
export type StateFileKind = 'GuestState' | 'RuntimeState';

export interface StateFile {
  kind: StateFileKind;
  path: string;
}

/** A recovery checkpoint found on a VM: left by a crashed backup unless the agent is running it now. */
export interface RecoverySnapshotInfo extends SnapshotHandle {
  vmName: string;
  label: string;
  createdAt: Date;
}

export interface ImportRequest {
  /** The configuration file restored from a recovery point (what Snapshot.configurationPath held). */
  configuration: Uint8Array;
  /** Its file name as the host wrote it (`<GUID>.vmcx` on Hyper-V); the backend decides where it goes. */
  configurationName: string;
  /**
   * Folder for the VM's own files. `Same`: the folder it had (Hyper-V registers the configuration
   * there). `New`: a fresh folder; the VM's configuration and disks end up under it (disks in
   * `<vmPath>/Virtual Hard Disks`), moved or copied from where `disks` staged them.
   */
  vmPath: string;
  /** Restored disk files; Hyper-V places them by slot, filehost by disk id. Disks not listed are detached. */
  disks: (DiskSlot & { diskId: string; path: string })[];
  /** `Same`: replace the original (it must be unregistered first); `New`: a copy with a new ID. */
  identity: 'Same' | 'New';
  newName?: string;
  /** The state files the backup captured with the configuration; each goes back beside it. */
  stateFiles?: { kind: StateFileKind; data: Uint8Array }[];
  /**
   * Connect every network adapter to this private switch (created when missing), so a test VM
   * reaches no network but its own: the isolated network of a boot test.
   */
  isolatedSwitch?: string;
}

export interface ImportedVm {
  vm: VmInfo;
  /** What the host changed to make the configuration fit (a network adapter left unconnected), for people. */
  adjustments: string[];
}

export interface BootCheckResult {
  booted: boolean;
  heartbeat: HeartbeatStatus;
  elapsedMs: number;
}

/** Error codes the agent turns into recovery point failures and retries. */
export type HypervisorErrorCode =
  | 'NotFound'
  | 'NotOwner'
  | 'InvalidState'
  | 'Busy'
  | 'GuestNotConsistent'
  | 'SnapshotFailed'
  | 'ChangeTrackingLost'
  | 'Timeout'
  | 'Unsupported'
  | 'HostError';

export class HypervisorError extends Error {
  constructor(
    readonly code: HypervisorErrorCode,
    message: string,
    /** Retrying later may succeed (VSS writer timeout, merge in progress, transient 0x800423F3). */
    readonly transient = false,
  ) {
    super(message);
    this.name = 'HypervisorError';
  }
}

/**
 * One Hyper-V host as the agent sees it. Every method acts on VMs this host owns now and throws
 * `HypervisorError('NotOwner')` otherwise; inventory lists only owned VMs.
 */
export interface Hypervisor {
  readonly node: string;
  /** This host's own folder for boot-test VMs when a restore names none; no other node uses it. */
  readonly testRestoreFolder: string;

  // Inventory
  getHost(): Promise<HostInfo>;
  listVms(): Promise<VmInfo[]>;
  /** `undefined` when the VM does not exist or runs on another node. */
  getVm(vmId: string): Promise<VmInfo | undefined>;

  // Snapshot lifecycle
  createSnapshot(vmId: string, request: SnapshotRequest): Promise<Snapshot>;
  /** Ranges changed between `since` and the snapshot, per disk, paired by disk id. */
  getChanges(snapshot: SnapshotHandle, since: ReferencePoint | undefined): Promise<DiskChanges[]>;
  /**
   * Ends a snapshot. With `keepAsReference` the snapshot becomes the baseline for the next
   * incremental (ConvertToReferencePoint) and that reference point is returned; otherwise it is
   * deleted and its differencing files merged.
   */
  releaseSnapshot(
    snapshot: SnapshotHandle,
    options: { keepAsReference: boolean },
  ): Promise<ReferencePoint | undefined>;
  /** Recovery checkpoints on owned VMs; the agent releases those no running job claims. */
  listRecoverySnapshots(): Promise<RecoverySnapshotInfo[]>;
  /** Drops a reference point that no recovery point needs any more. Missing ones are ignored. */
  destroyReferencePoint(reference: ReferencePoint): Promise<void>;

  // Restore primitives
  importVm(request: ImportRequest): Promise<ImportedVm>;
  /** Removes a VM from the host's registry and keeps its files (before an in-place restore). */
  unregisterVm(vmId: string): Promise<void>;
  startVm(vmId: string): Promise<void>;
  /** Guest shutdown through the Shutdown service when it answers, else turn off (`force`). */
  stopVm(vmId: string, options?: { force?: boolean }): Promise<void>;
  /** Waits for the guest's heartbeat, the evidence that a restored VM booted. */
  bootCheck(vmId: string, timeoutMs: number): Promise<BootCheckResult>;

  // Migration
  /** Moves the running VM to another node of the cluster; the disks stay where they are. */
  liveMigrate(vmId: string, targetNode: string): Promise<void>;
  /** Moves the VM's disks to another folder; change tracking baselines are lost. */
  moveStorage(vmId: string, destinationPath: string): Promise<void>;
}
