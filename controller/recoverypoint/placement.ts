import { formatDuration } from '../common/duration.js';

/** A recovery point as placement sees it. */
export interface PlacementPoint {
  key: string;
  vmId: string;
  phase: 'Pending' | 'Snapshotting' | 'Transferring' | 'Completed' | 'Failed' | 'Deleting';
  /** The node it is assigned to (its `shadowkeep.io/node` label), if any. */
  node?: string;
  /** Its consistency group: members of one group are one coordinated backup, admitted together. */
  group?: string;
  /** Since when the point has been waiting to start (its creation, or its first wait on record). */
  waitingSince: Date;
}

export interface PlacementVM {
  host: string;
  /** Volumes the VM's disks live on: per-volume limits protect shared volumes (CSVs) from overload. */
  volumes: string[];
}

export interface PlacementHost {
  heartbeat?: Date;
  unschedulable: boolean;
}

/** Another recovery point holding a backup slot now. */
export interface ActiveBackup {
  key: string;
  group?: string;
  node: string;
  volumes: string[];
}

export interface Limits {
  perHost: number;
  perVolume: number;
}

export type Placement =
  | { action: 'none' }
  | { action: 'assign'; node: string }
  | { action: 'wait'; reason: string; message: string; retryAfterMs: number }
  | { action: 'fail'; reason: string; message: string };

/** An agent that has not reported for this long is considered gone. */
export const agentTimeoutMs = 180_000;
/** A recovery point that could not start for this long fails, so the policy can retry with a new one. */
export const pendingTimeoutMs = 1_800_000;

export const isTerminal = (phase: PlacementPoint['phase']): boolean =>
  phase === 'Completed' || phase === 'Failed' || phase === 'Deleting';

export function agentAlive(host: PlacementHost | undefined, now: Date): boolean {
  return host?.heartbeat !== undefined && now.getTime() - host.heartbeat.getTime() <= agentTimeoutMs;
}

/**
 * Where a recovery point runs, and when: on the node that owns the VM now (so protection follows
 * live migration), once that node's agent is alive and the per-host and per-volume limits leave a
 * slot. A point that cannot start in time, or whose agent vanished mid-backup, fails with a reason
 * so the policy retries it as a new attempt instead of waiting forever.
 */
export function place(
  point: PlacementPoint,
  vm: PlacementVM | undefined,
  hosts: ReadonlyMap<string, PlacementHost>,
  active: readonly ActiveBackup[],
  limits: Limits,
  now: Date,
): Placement {
  if (isTerminal(point.phase)) {
    return { action: 'none' };
  }
  const waitedMs = now.getTime() - point.waitingSince.getTime();
  const giveUp = waitedMs >= pendingTimeoutMs;

  if (point.node && point.phase !== 'Pending') {
    if (!agentAlive(hosts.get(point.node), now)) {
      return {
        action: 'fail',
        reason: 'AgentLost',
        message: `the agent on ${point.node} stopped reporting during the backup; a new attempt will be made`,
      };
    }
    return { action: 'none' };
  }

  if (!vm) {
    return giveUp
      ? {
          action: 'fail',
          reason: 'VMNotFound',
          message: `no host has reported VM ${point.vmId} for ${formatDuration(waitedMs)}`,
        }
      : {
          action: 'wait',
          reason: 'VMNotFound',
          message: `no host reports VM ${point.vmId} yet`,
          retryAfterMs: 15_000,
        };
  }
  if (point.node === vm.host) {
    return { action: 'none' };
  }
  const host = hosts.get(vm.host);
  if (!agentAlive(host, now)) {
    return giveUp
      ? {
          action: 'fail',
          reason: 'AgentUnavailable',
          message: `the agent on ${vm.host} has not reported for ${formatDuration(waitedMs)}; check the shadowkeep-agent pod on that node`,
        }
      : {
          action: 'wait',
          reason: 'AgentUnavailable',
          message: `waiting for the agent on ${vm.host} to report`,
          retryAfterMs: 15_000,
        };
  }
  if (host?.unschedulable) {
    return {
      action: 'wait',
      reason: 'HostUnschedulable',
      message: `${vm.host} takes no new backups (spec.unschedulable)`,
      retryAfterMs: 60_000,
    };
  }
  // Members of one consistency group wait for each other at the snapshot, so they never queue
  // behind each other here (that would deadlock the group until its barrier times out).
  const others = active.filter(
    (a) => a.key !== point.key && (point.group === undefined || a.group !== point.group),
  );
  const onHost = others.filter((a) => a.node === vm.host).length;
  if (onHost >= limits.perHost) {
    return {
      action: 'wait',
      reason: 'WaitingForHostSlot',
      message: `${onHost} backups running on ${vm.host} (limit ${limits.perHost} per host)`,
      retryAfterMs: 10_000,
    };
  }
  for (const volume of vm.volumes) {
    const onVolume = others.filter((a) => a.volumes.includes(volume)).length;
    if (onVolume >= limits.perVolume) {
      return {
        action: 'wait',
        reason: 'WaitingForVolumeSlot',
        message: `${onVolume} backups running on volume ${volume} (limit ${limits.perVolume} per volume)`,
        retryAfterMs: 10_000,
      };
    }
  }
  return { action: 'assign', node: vm.host };
}
