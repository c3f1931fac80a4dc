/**
 * Where a simulated cluster keeps things. One folder (the "root") stands for everything several
 * Hyper-V hosts can see:
 *
 *   <root>/hosts/<node>/host.json      host facts (created by `shadowkeep sim host create`)
 *   <root>/hosts/<node>/local/         the node's own disks: invisible to every other node
 *   <root>/csv/<Volume>/               Cluster Shared Volumes: every node sees them
 *   <root>/smb/<server>/<share>/       SMB 3.0 shares: every node sees them
 *   <root>/vms/<vmId>/vm.json          the cluster's VM registry: configuration, owner, checkpoints
 *   <root>/vms/<vmId>/checkpoints/     the configuration as of each checkpoint
 *
 * Names that become path segments are validated here, so no VM or host name can walk out of it.
 */
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { HypervisorError, type StorageKind } from '../types.js';

const nodeName = /^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/;
const segment = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function checkNodeName(name: string): string {
  if (!nodeName.test(name)) {
    throw new HypervisorError(
      'InvalidState',
      `host name ${JSON.stringify(name)} is not a valid node name (lower-case letters, digits, '-', '.')`,
    );
  }
  return name;
}

export function checkSegment(name: string, what: string): string {
  if (!segment.test(name) || name === '..') {
    throw new HypervisorError(
      'InvalidState',
      `${what} ${JSON.stringify(name)} may use only letters, digits, '_', '-' and '.'`,
    );
  }
  return name;
}

export function checkVmId(id: string): string {
  if (!guid.test(id)) {
    throw new HypervisorError('NotFound', `${JSON.stringify(id)} is not a VM id (a lower-case GUID)`);
  }
  return id;
}

export interface StoragePlace {
  kind: Exclude<StorageKind, 'PassThrough' | 'Shared'>;
  /** Volume root: the CSV volume, the share, or the node's local disk. */
  volume: string;
  /** Set for Local storage: the only node that can see it. */
  node?: string;
}

export class Layout {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  hostDir(node: string): string {
    return `${this.root}/hosts/${checkNodeName(node)}`;
  }
  hostFile(node: string): string {
    return `${this.hostDir(node)}/host.json`;
  }
  localStorage(node: string): string {
    return `${this.hostDir(node)}/local`;
  }
  csvDir(): string {
    return `${this.root}/csv`;
  }
  csvVolume(volume: string): string {
    return `${this.csvDir()}/${checkSegment(volume, 'CSV volume')}`;
  }
  smbShare(server: string, share: string): string {
    return `${this.root}/smb/${checkSegment(server, 'SMB server')}/${checkSegment(share, 'SMB share')}`;
  }
  vmsDir(): string {
    return `${this.root}/vms`;
  }
  vmDir(vmId: string): string {
    return `${this.vmsDir()}/${checkVmId(vmId)}`;
  }
  vmFile(vmId: string): string {
    return `${this.vmDir(vmId)}/vm.json`;
  }
  /** A generation 2 VM's guest state (its UEFI variables), as Hyper-V's .vmgs beside the configuration. */
  guestStateFile(vmId: string): string {
    return `${this.vmDir(vmId)}/guest-state.vmgs`;
  }
  checkpointDir(vmId: string, checkpointId: string): string {
    return `${this.vmDir(vmId)}/checkpoints/${checkVmId(checkpointId)}`;
  }

  /**
   * Which storage a path (a file or a folder, the volume root included) is on. Paths outside the cluster's storage folders are refused: the sim
   * never reads or writes anything it was not given.
   */
  classify(path: string): StoragePlace {
    const absolute = resolve(path);
    const rel = relative(this.root, absolute);
    if (rel.startsWith('..') || isAbsolute(rel)) {
      throw new HypervisorError('InvalidState', `${path} is outside the simulated cluster at ${this.root}`);
    }
    const parts = rel.split(sep);
    const [area, a, b] = parts;
    if (area === 'csv' && a !== undefined) {
      return { kind: 'CSV', volume: this.csvVolume(a) };
    }
    if (area === 'smb' && a !== undefined && b !== undefined) {
      return { kind: 'SMB', volume: this.smbShare(a, b) };
    }
    if (area === 'hosts' && a !== undefined && b === 'local') {
      return { kind: 'Local', volume: this.localStorage(a), node: a };
    }
    throw new HypervisorError(
      'InvalidState',
      `${path} is not on simulated storage (hosts/<node>/local, csv/<volume> or smb/<server>/<share>)`,
    );
  }
}
