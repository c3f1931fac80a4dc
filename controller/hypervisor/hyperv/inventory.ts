/**
 * Hyper-V inventory JSON (from the `host` and `vms` scripts) to domain types. Pure, so every shape
 * PowerShell prints is tested from recorded output. Enum numbers are from the reference §3.
 */
import {
  type BusyOperation,
  type CheckpointType,
  type ClusterMembership,
  type DiskFormat,
  type HeartbeatStatus,
  type HostInfo,
  type IntegrationService,
  type IntegrationServiceStatus,
  type VirtualDisk,
  type VmInfo,
  type VmState,
} from '../types.js';
import {
  asArray,
  bool,
  enumName,
  isObject,
  malformed,
  num,
  optNum,
  optStr,
  str,
  type Json,
  type JsonObject,
} from './decode.js';
import { normalizeDiskId, volumeOf } from './paths.js';

/** Windows Server 2016 (build 14393) brought recovery snapshots and RCT. */
const firstBuildWithRct = 14393;
const firstVersionWithRct = 8;

const vmStates: Record<number, string> = {
  1: 'Other',
  2: 'Running',
  3: 'Off',
  4: 'Stopping',
  6: 'Saved',
  9: 'Paused',
  10: 'Starting',
  11: 'Reset',
  32773: 'Saving',
  32776: 'Pausing',
  32777: 'Resuming',
  32779: 'FastSaved',
  32780: 'FastSaving',
};
const stateNames: Record<string, VmState> = {
  Running: 'Running',
  Off: 'Off',
  Stopping: 'Stopping',
  Saved: 'Saved',
  FastSaved: 'Saved',
  Paused: 'Paused',
  Starting: 'Starting',
  Resuming: 'Starting',
  Reset: 'Starting',
  Saving: 'Saving',
  FastSaving: 'Saving',
  Pausing: 'Saving',
};

const heartbeats: Record<number, HeartbeatStatus> = {
  0: 'Unknown',
  1: 'Disabled',
  2: 'NoContact',
  3: 'Error',
  4: 'LostCommunication',
  5: 'OkApplicationsUnknown',
  6: 'OkApplicationsHealthy',
  7: 'OkApplicationsCritical',
  8: 'Paused',
};
const checkpointTypes: Record<number, CheckpointType> = {
  2: 'Disabled',
  3: 'Production',
  4: 'ProductionOnly',
  5: 'Standard',
};
const serviceStatuses: Record<number, IntegrationServiceStatus> = {
  2: 'Ok',
  3: 'Degraded',
  6: 'Error',
  7: 'NonRecoverableError',
  12: 'NoContact',
  13: 'LostCommunication',
  32775: 'ProtocolMismatch',
  32896: 'Disabled',
};
const controllerTypes: Record<number, VirtualDisk['controllerType']> = { 0: 'IDE', 1: 'SCSI', 2: 'PMEM' };
const vhdFormats: Record<number, DiskFormat> = { 2: 'VHD', 3: 'VHDX', 4: 'VHDSet' };
const busyByNumber: Record<number, BusyOperation> = {
  32772: 'MergingDisks',
  32774: 'Migrating',
  32776: 'BackingUp',
  32778: 'StorageMigration',
  32779: 'StorageMigration',
};
const busyByName: Record<string, BusyOperation> = {
  MergingDisks: 'MergingDisks',
  MigratingVirtualMachine: 'Migrating',
  BackingUpVirtualMachine: 'BackingUp',
  StorageMigrationPhaseOne: 'StorageMigration',
  StorageMigrationPhaseTwo: 'StorageMigration',
};
const groupStates: readonly ClusterMembership['groupState'][] = [
  'Online',
  'Offline',
  'PartialOnline',
  'Failed',
  'Pending',
];

export function hostFromJson(json: Json, node: string): HostInfo {
  if (!isObject(json)) {
    throw malformed('host', json);
  }
  const cluster = json.Cluster;
  return {
    name: node,
    osVersion: str(json, 'OsCaption', 'host'),
    hypervVersion: str(json, 'OsVersion', 'host'),
    logicalProcessors: num(json, 'LogicalProcessors', 'host'),
    memoryBytes: num(json, 'MemoryBytes', 'host'),
    recoverySnapshots: num(json, 'BuildNumber', 'host') >= firstBuildWithRct,
    ...(isObject(cluster)
      ? {
          cluster: {
            name: str(cluster, 'Name', 'cluster'),
            sharedVolumes: asArray(cluster.SharedVolumes).filter((v): v is string => typeof v === 'string'),
          },
        }
      : {}),
  };
}

export interface InventoryContext {
  node: string;
  host: HostInfo;
}

export function vmsFromJson(json: Json, context: InventoryContext): VmInfo[] {
  return asArray(json).map((item) => {
    if (!isObject(item)) {
      throw malformed('VM', item);
    }
    return vmFromJson(item, context);
  });
}

function vmFromJson(json: JsonObject, { node, host }: InventoryContext): VmInfo {
  const what = 'VM';
  const sharedVolumes = host.cluster?.sharedVolumes ?? [];
  const stateName = enumName(json, 'State', vmStates, Object.values(vmStates), 'Other');
  const version = str(json, 'Version', what);
  const snapshotLocation = optStr(json, 'SnapshotFileLocation') ?? '';
  const os = optStr(json, 'GuestOS');
  const clustered = bool(json, 'IsClustered');
  const clusterName = optStr(json, 'ClusterName');
  const owner = optStr(json, 'OwnerNode');
  // Cluster node names are NetBIOS names (upper case); Kubernetes node names are lower case.
  const ownerNode = clustered && owner !== undefined ? owner.toLowerCase() : node;
  return {
    id: str(json, 'Id', what).toLowerCase(),
    name: str(json, 'Name', what),
    state: stateNames[stateName] ?? 'Other',
    generation: num(json, 'Generation', what) === 1 ? 1 : 2,
    configurationVersion: version,
    guest: {
      os: os ?? 'unknown',
      family:
        os === undefined
          ? 'Unknown'
          : /windows/i.test(os)
            ? 'Windows'
            : /linux|ubuntu|debian|centos|red hat|suse|rocky|alma/i.test(os)
              ? 'Linux'
              : 'Unknown',
    },
    heartbeat: enumName(json, 'Heartbeat', heartbeats, Object.values(heartbeats), 'Unknown'),
    integrationServices: asArray(json.IntegrationServices).map(integrationService),
    disks: asArray(json.Disks).map((d) => disk(d, sharedVolumes)),
    checkpointType: enumName(
      json,
      'CheckpointType',
      checkpointTypes,
      Object.values(checkpointTypes),
      'Production',
    ),
    snapshotLocation,
    snapshotVolume: volumeOf(snapshotLocation, sharedVolumes).root,
    configurationPath: optStr(json, 'ConfigurationLocation') ?? '',
    busy: busy(json),
    ...(clustered && clusterName !== undefined
      ? {
          cluster: {
            clusterName,
            ownerNode,
            groupState: groupStates.find((g) => g === optStr(json, 'ClusterGroupState')) ?? 'Unknown',
          },
        }
      : {}),
    ownerNode,
    changeTracking: host.recoverySnapshots && Number.parseFloat(version) >= firstVersionWithRct,
    userCheckpoints: optNum(json, 'UserCheckpoints') ?? 0,
  };
}

/** `Id` is `Microsoft:<VMId>\<service GUID>`; the suffix identifies the service in every language. */
function integrationService(json: Json): IntegrationService {
  if (!isObject(json)) {
    throw malformed('integration service', json);
  }
  const id = str(json, 'Id', 'integration service');
  return {
    id: (id.split('\\').at(-1) ?? id).toUpperCase(),
    name: optStr(json, 'Name') ?? '',
    enabled: bool(json, 'Enabled'),
    status: enumName(
      json,
      'PrimaryOperationalStatus',
      serviceStatuses,
      Object.values(serviceStatuses),
      'Unknown',
    ),
  };
}

function disk(json: Json, sharedVolumes: readonly string[]): VirtualDisk {
  if (!isObject(json)) {
    throw malformed('disk', json);
  }
  const slot = {
    controllerType: enumName(json, 'ControllerType', controllerTypes, Object.values(controllerTypes), 'SCSI'),
    controllerNumber: num(json, 'ControllerNumber', 'disk'),
    controllerLocation: num(json, 'ControllerLocation', 'disk'),
  };
  const path = optStr(json, 'Path') ?? '';
  const diskNumber = optNum(json, 'DiskNumber');
  const identifier = optStr(json, 'DiskIdentifier');
  // Without a readable VHD there is no identifier; the slot is the next most stable name.
  const id =
    identifier === undefined
      ? `${slot.controllerType}:${slot.controllerNumber}:${slot.controllerLocation}`
      : normalizeDiskId(identifier);
  if (diskNumber !== undefined && !/\.(a?vhdx?|vhds)$/i.test(path)) {
    return {
      ...slot,
      id,
      path: path || `PhysicalDisk${diskNumber}`,
      format: 'Physical',
      storage: 'PassThrough',
      volume: '',
      virtualSize: 0,
      visible: false,
    };
  }
  const volume = volumeOf(path, sharedVolumes);
  const format = enumName(
    json,
    'VhdFormat',
    vhdFormats,
    Object.values(vhdFormats),
    /\.vhds$/i.test(path) ? 'VHDSet' : /\.vhd$/i.test(path) ? 'VHD' : 'VHDX',
  );
  return {
    ...slot,
    id,
    path,
    format,
    storage: bool(json, 'SupportPersistentReservations') ? 'Shared' : volume.kind,
    volume: volume.root,
    virtualSize: optNum(json, 'Size') ?? 0,
    visible: bool(json, 'Readable'),
  };
}

function busy(json: JsonObject): BusyOperation[] {
  const found = new Set<BusyOperation>();
  for (const value of asArray(json.OperationalStatusValue)) {
    const op = typeof value === 'number' ? busyByNumber[value] : undefined;
    if (op) {
      found.add(op);
    }
  }
  for (const name of asArray(json.OperationalStatus)) {
    const op = typeof name === 'string' ? busyByName[name] : undefined;
    if (op) {
      found.add(op);
    }
  }
  return [...found];
}
