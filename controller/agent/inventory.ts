import type {
  HyperVHostJob,
  HyperVHostStatus,
  HyperVVirtualMachineDisk,
  HyperVVirtualMachineStatus,
} from '../api/index.js';
import { decideBackupMode, type BackupDecision } from '../hypervisor/decision.js';
import type { HostInfo, VmInfo } from '../hypervisor/types.js';

const diskFormat: Record<VmInfo['disks'][number]['format'], HyperVVirtualMachineDisk['format']> = {
  VHDX: 'VHDX',
  VHD: 'VHD',
  VHDSet: 'VHDX',
  Physical: 'None',
};

/** Blockers as people read them in `kubectl describe hvvm`: what is wrong, then what to do. */
function blockersOf(decision: BackupDecision): { reason: string; message: string }[] {
  return [
    ...decision.blockers.map((b) => ({ reason: b.code, message: `${b.reason}; ${b.fix}` })),
    ...decision.notCovered.map((d) => ({ reason: d.code, message: `${d.reason}; ${d.fix}` })),
    ...decision.waitFor.map((w) => ({ reason: w.code, message: `${w.reason}; ${w.fix}` })),
  ];
}

/** The HyperVVirtualMachine status this agent publishes for one VM it owns. */
export function vmStatus(
  vm: VmInfo,
  host: HostInfo,
  consistencyCheckReason?: string,
): HyperVVirtualMachineStatus {
  const decision = decideBackupMode(vm, host);
  return {
    vmName: vm.name,
    host: host.name,
    ...(vm.cluster ? { clusterName: vm.cluster.clusterName } : {}),
    state: vm.state,
    vmGeneration: vm.generation,
    configurationVersion: vm.configurationVersion,
    guestOS: vm.guest.os,
    integrationServices: vm.integrationServices.map((s) => ({
      id: s.id,
      name: s.name,
      enabled: s.enabled,
      status: s.status,
    })),
    backup: { mode: decision.mode, blockers: blockersOf(decision) },
    disks: vm.disks.map((d) => ({
      controllerLocation: `${d.controllerType} ${d.controllerNumber}:${d.controllerLocation}`,
      path: d.path,
      format: diskFormat[d.format],
      storage: d.storage,
      virtualSize: d.virtualSize,
      covered: !decision.notCovered.some((u) => u.diskId === d.id),
    })),
    changeTracking: {
      enabled: vm.changeTracking,
      consistencyCheckRequired: consistencyCheckReason !== undefined,
      ...(consistencyCheckReason ? { reason: consistencyCheckReason } : {}),
    },
  };
}

/** The HyperVHost status: facts, capacity, the jobs running now and a heartbeat. */
export function hostStatus(
  host: HostInfo,
  extra: {
    backend: 'hyperv' | 'filehost';
    agentVersion: string;
    vmCount: number;
    jobs: HyperVHostJob[];
    now: Date;
    since: Date;
    maxConcurrentJobs: number;
  },
): HyperVHostStatus {
  return {
    hostName: host.name,
    osVersion: host.osVersion,
    hypervVersion: host.hypervVersion,
    backend: extra.backend,
    agentVersion: extra.agentVersion,
    ...(host.cluster ? { clusterName: host.cluster.name } : {}),
    changeTracking: host.recoverySnapshots,
    clusterSharedVolumes: (host.cluster?.sharedVolumes ?? []).map((path) => ({
      name: path.split(/[\\/]/).pop() ?? path,
      path,
    })),
    capacity: {
      logicalProcessors: host.logicalProcessors,
      memoryBytes: host.memoryBytes,
      maxConcurrentJobs: extra.maxConcurrentJobs,
    },
    virtualMachines: extra.vmCount,
    runningJobs: extra.jobs.length,
    jobs: extra.jobs,
    heartbeatTime: extra.now.toISOString(),
    conditions: [
      {
        type: 'Ready',
        status: 'True',
        reason: 'AgentReporting',
        message: `agent ${extra.agentVersion} reports ${extra.vmCount} VMs`,
        lastTransitionTime: extra.since.toISOString(),
      },
    ],
  };
}
