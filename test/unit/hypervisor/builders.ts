/** Builders for inventory facts: `aVm(running(), withBackupService(false))` reads as the situation it sets up. */
import {
  IntegrationServiceId,
  type IntegrationService,
  type VirtualDisk,
  type VmInfo,
} from '../../../controller/hypervisor/types.js';

type Change = (vm: VmInfo) => void;

const volume = 'C:\\ClusterStorage\\Volume1';

export function aDisk(overrides: Partial<VirtualDisk> = {}): VirtualDisk {
  return {
    id: 'disk-os',
    controllerType: 'SCSI',
    controllerNumber: 0,
    controllerLocation: 0,
    path: `${volume}\\sql01\\os.vhdx`,
    format: 'VHDX',
    storage: 'CSV',
    volume,
    virtualSize: 64 * 1024 ** 3,
    visible: true,
    ...overrides,
  };
}

function service(id: string, name: string): IntegrationService {
  return { id, name, enabled: true, status: 'Ok' };
}

/** A healthy, running, clustered Windows VM that can take an online backup. */
export function aVm(...changes: Change[]): VmInfo {
  const vm: VmInfo = {
    id: '1a2b3c4d-0000-4000-8000-000000000001',
    name: 'sql01',
    state: 'Running',
    generation: 2,
    configurationVersion: '9.0',
    guest: {
      os: 'Windows Server 2022',
      family: 'Windows',
      vssCapable: true,
      dynamicDisks: false,
      nonSnapshotFileSystem: false,
      shadowStorageElsewhere: false,
      integrationComponentsOutdated: false,
    },
    heartbeat: 'OkApplicationsHealthy',
    integrationServices: [
      service(IntegrationServiceId.backup, 'VSS'),
      service(IntegrationServiceId.heartbeat, 'Takt'),
    ],
    disks: [aDisk()],
    checkpointType: 'Production',
    snapshotLocation: `${volume}\\sql01`,
    snapshotVolume: volume,
    configurationPath: `${volume}\\sql01`,
    busy: [],
    cluster: { clusterName: 'hvclu01', ownerNode: 'hv-node-1', groupState: 'Online' },
    ownerNode: 'hv-node-1',
    changeTracking: true,
    userCheckpoints: 0,
  };
  for (const change of changes) {
    change(vm);
  }
  return vm;
}

export const inState =
  (state: VmInfo['state']): Change =>
  (vm) => {
    vm.state = state;
    vm.heartbeat = 'Unknown';
    if (vm.cluster) {
      vm.cluster.groupState = 'Offline';
    }
  };
export const backupService =
  (enabled: boolean, status: IntegrationService['status'] = enabled ? 'Ok' : 'Disabled'): Change =>
  (vm) => {
    vm.integrationServices = vm.integrationServices.map((s) =>
      s.id === IntegrationServiceId.backup ? { ...s, enabled, status } : s,
    );
  };
export const withoutBackupService = (): Change => (vm) => {
  vm.integrationServices = vm.integrationServices.filter((s) => s.id !== IntegrationServiceId.backup);
};
export const withGuest =
  (guest: Partial<VmInfo['guest']>): Change =>
  (vm) => {
    vm.guest = { ...vm.guest, ...guest };
  };
export const withDisks =
  (...disks: VirtualDisk[]): Change =>
  (vm) => {
    vm.disks = disks;
  };
export const withHeartbeat =
  (heartbeat: VmInfo['heartbeat']): Change =>
  (vm) => {
    vm.heartbeat = heartbeat;
  };
export const busyWith =
  (...ops: VmInfo['busy']): Change =>
  (vm) => {
    vm.busy = ops;
  };
export const snapshotsOn =
  (location: string, volumeRoot: string): Change =>
  (vm) => {
    vm.snapshotLocation = location;
    vm.snapshotVolume = volumeRoot;
  };
export const withCheckpointType =
  (type: VmInfo['checkpointType']): Change =>
  (vm) => {
    vm.checkpointType = type;
  };
export const withGroupState =
  (state: NonNullable<VmInfo['cluster']>['groupState']): Change =>
  (vm) => {
    if (vm.cluster) {
      vm.cluster.groupState = state;
    }
  };
