/**
 * How a simulated VM looks to the agent: the pure mapping from `vm.json` to `VmInfo`, including the
 * things a real host derives (heartbeat after boot, integration-service status, storage kind of each
 * disk as seen from this node).
 */
import {
  IntegrationServiceId,
  type GuestInfo,
  type HeartbeatStatus,
  type HostInfo,
  type IntegrationService,
  type IntegrationServiceStatus,
  type VirtualDisk,
  type VmInfo,
  type VmState,
} from '../types.js';
import type { SimDisk, SimGuest, SimVm } from './config.js';
import type { Layout } from './layout.js';

const serviceNames: Record<string, string> = {
  [IntegrationServiceId.backup]: 'Backup (volume shadow copy)',
  [IntegrationServiceId.heartbeat]: 'Heartbeat',
  [IntegrationServiceId.shutdown]: 'Shutdown',
  [IntegrationServiceId.timeSync]: 'Time Synchronization',
  [IntegrationServiceId.keyValuePair]: 'Key-Value Pair Exchange',
  [IntegrationServiceId.guestServices]: 'Guest Service Interface',
};

/** The guest answers its integration services: running, components installed, booted. */
export function guestAnswers(vm: SimVm, now: Date): boolean {
  return (
    vm.state === 'Running' &&
    vm.guest.integrationComponents &&
    vm.guest.bootable &&
    vm.bootFailure === undefined &&
    now.getTime() - Date.parse(vm.startedAt) >= vm.guest.bootMs
  );
}

export function heartbeatOf(vm: SimVm, now: Date): HeartbeatStatus {
  if (vm.integrationServices[IntegrationServiceId.heartbeat] !== true) {
    return 'Disabled';
  }
  if (vm.state === 'Paused') {
    return 'Paused';
  }
  if (vm.state !== 'Running') {
    return 'Unknown';
  }
  return guestAnswers(vm, now) ? 'OkApplicationsHealthy' : 'NoContact';
}

function serviceStatus(vm: SimVm, enabled: boolean, now: Date): IntegrationServiceStatus {
  if (!enabled) {
    return 'Disabled';
  }
  if (!guestAnswers(vm, now)) {
    return 'NoContact';
  }
  return vm.guest.integrationComponentsOutdated ? 'ProtocolMismatch' : 'Ok';
}

function integrationServices(vm: SimVm, now: Date): IntegrationService[] {
  return Object.entries(vm.integrationServices).map(([id, enabled]) => ({
    id,
    name: serviceNames[id] ?? id,
    enabled,
    status: serviceStatus(vm, enabled, now),
  }));
}

export function diskInfo(disk: SimDisk, layout: Layout, node: string): VirtualDisk {
  const slot = {
    id: disk.id,
    controllerType: disk.controllerType,
    controllerNumber: disk.controllerNumber,
    controllerLocation: disk.controllerLocation,
  };
  if (disk.path === undefined) {
    const path = `PhysicalDisk${disk.passThroughDiskNumber ?? '?'}`;
    return {
      ...slot,
      path,
      format: 'Physical',
      storage: 'PassThrough',
      volume: '',
      virtualSize: 0,
      visible: false,
    };
  }
  const place = layout.classify(disk.path);
  const visible = place.node === undefined || place.node === node;
  return {
    ...slot,
    path: disk.path,
    format: disk.path.toLowerCase().endsWith('.vhd') ? 'VHD' : 'VHDX',
    storage: disk.shared ? 'Shared' : place.kind,
    volume: place.volume,
    virtualSize: disk.virtualSize,
    visible,
  };
}

const versionWithRct = 8;

/** What the agent may see of the guest: the simulation's own knobs (boot time, bootable) stay out. */
function guestInfo(g: SimGuest): GuestInfo {
  return {
    os: g.os,
    family: g.family,
    vssCapable: g.vssCapable,
    dynamicDisks: g.dynamicDisks,
    nonSnapshotFileSystem: g.nonSnapshotFileSystem,
    shadowStorageElsewhere: g.shadowStorageElsewhere,
    integrationComponentsOutdated: g.integrationComponentsOutdated,
  };
}

export function vmInfo(vm: SimVm, layout: Layout, host: HostInfo, now: Date): VmInfo {
  const state: VmState = vm.state;
  return {
    id: vm.id,
    name: vm.name,
    state,
    generation: vm.generation,
    configurationVersion: vm.configurationVersion,
    guest: guestInfo(vm.guest),
    heartbeat: heartbeatOf(vm, now),
    integrationServices: integrationServices(vm, now),
    disks: vm.disks.map((d) => diskInfo(d, layout, host.name)),
    checkpointType: vm.checkpointType,
    snapshotLocation: vm.snapshotLocation,
    snapshotVolume: layout.classify(vm.snapshotLocation).volume,
    configurationPath: layout.vmDir(vm.id),
    busy: vm.faults.mergeInProgress ? ['MergingDisks'] : [],
    ...(vm.clustered && host.cluster
      ? {
          cluster: {
            clusterName: host.cluster.name,
            ownerNode: vm.owner,
            groupState: vm.state === 'Running' || vm.state === 'Paused' ? 'Online' : 'Offline',
          },
        }
      : {}),
    ownerNode: vm.owner,
    changeTracking:
      vm.changeTracking &&
      host.recoverySnapshots &&
      Number.parseFloat(vm.configurationVersion) >= versionWithRct,
    userCheckpoints: vm.userCheckpoints,
  };
}
