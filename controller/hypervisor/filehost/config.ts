/**
 * The files that make a simulated host and VM. `vm.json` is the single source of truth for a VM and
 * is only replaced whole (write to a temporary file, then rename), so readers never see half a file
 * and the lock holder's change is all-or-nothing.
 */
import { randomUUID } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { CheckpointType, Consistency, GuestInfo } from '../types.js';

export interface SimHost {
  schema: 1;
  name: string;
  osVersion: string;
  hypervVersion: string;
  logicalProcessors: number;
  memoryBytes: number;
  /** Hosts with the same cluster name share ownership of clustered VMs and can live-migrate them. */
  cluster?: string;
  /** A host older than Windows Server 2016 has no recovery snapshots or RCT. */
  recoverySnapshots: boolean;
}

export type SimState = 'Running' | 'Off' | 'Saved' | 'Paused';

export interface SimDisk {
  id: string;
  controllerType: 'IDE' | 'SCSI';
  controllerNumber: number;
  controllerLocation: number;
  /** The VHDX file; for a pass-through disk, unset. */
  path?: string;
  passThroughDiskNumber?: number;
  /** A shared VHDX of a guest cluster (SupportPersistentReservations). */
  shared: boolean;
  /** Identity of the change log: renewed when the disk moves, which loses every baseline. */
  trackingId: string;
  /** Kept here so inventory never opens hundreds of VHDX headers. */
  virtualSize: number;
}

export interface SimCheckpointDisk {
  diskId: string;
  path: string;
  /** Position in the disk's change log at the freeze. */
  trackingId: string;
  sequence: number;
}

export interface SimCheckpoint {
  id: string;
  label: string;
  createdAt: string;
  pointInTime: string;
  consistency: Consistency;
  downtimeMs: number;
  disks: SimCheckpointDisk[];
  excludedDisks: { diskId: string; reason: string }[];
}

export interface SimReferencePoint {
  id: string;
  createdAt: string;
  disks: { diskId: string; trackingId: string }[];
}

/** Faults the sim injects into the next operations, as real hosts produce them. */
export interface SimFaults {
  /** The guest's VSS writers time out: online snapshots fail (0x800423F2), transiently. */
  vssWriterTimeout?: boolean;
  /** A checkpoint merge is running: the VM is busy (OperationalStatus 32772). */
  mergeInProgress?: boolean;
  /** Creating the checkpoint fails on the host (error 32768). */
  snapshotFailure?: boolean;
  /** Each disk copy during a checkpoint takes this much longer (the freeze lasts longer). */
  slowDiskMs?: number;
}

export interface SimGuest extends GuestInfo {
  /** Integration components are installed in the guest at all. */
  integrationComponents: boolean;
  /** Time from start to the first heartbeat. */
  bootMs: number;
  /** A guest that never boots (a broken restore) never sends a heartbeat. */
  bootable: boolean;
}

export interface SimVm {
  schema: 1;
  id: string;
  name: string;
  generation: 1 | 2;
  configurationVersion: string;
  state: SimState;
  /** When the guest last booted (start from Off); resuming from saved or paused keeps it running. */
  startedAt: string;
  /** The node that runs the VM now; changed only under the VM lock. */
  owner: string;
  clustered: boolean;
  guest: SimGuest;
  /** Enabled flags of integration services, keyed by service id. */
  integrationServices: Record<string, boolean>;
  checkpointType: CheckpointType;
  snapshotLocation: string;
  changeTracking: boolean;
  disks: SimDisk[];
  checkpoints: SimCheckpoint[];
  referencePoints: SimReferencePoint[];
  userCheckpoints: number;
  faults: SimFaults;
  /** Set at the last start from Off when the firmware found nothing to boot (firmware.ts): no heartbeat. */
  bootFailure?: string;
  /** The private switch every network adapter is connected to (a test restore's isolated network). */
  isolatedSwitch?: string;
}

export async function readJson<T extends { schema: 1 }>(path: string, what: string): Promise<T> {
  const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<T>;
  if (parsed.schema !== 1) {
    throw new Error(`${path} is not a ${what} file (schema ${String(parsed.schema)})`);
  }
  return parsed as T;
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${randomUUID()}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(tmp, path);
}
