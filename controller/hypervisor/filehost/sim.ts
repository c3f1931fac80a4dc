/**
 * Administration of a simulated cluster: what a Hyper-V administrator (creating hosts and VMs,
 * toggling integration services, injecting faults) and a guest (writing to its disks) do. The agent
 * never uses this; it sees the results through `FileHost`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { HypervisorError, IntegrationServiceId, type CheckpointType } from '../types.js';
import {
  readJson,
  writeJsonAtomic,
  type SimDisk,
  type SimFaults,
  type SimGuest,
  type SimHost,
  type SimVm,
} from './config.js';
import { registerVm } from './filehost.js';
import { checkVmName } from '../names.js';
import { Layout, checkNodeName, checkVmId } from './layout.js';
import { withLock } from './lock.js';
import { createBlankVhdx, createNtfsVhdx, type GuestFile } from './ntfs-disk.js';
import { recordChange } from './tracking.js';
import { writeVhdx } from './tools.js';

export type IntegrationServiceKey = keyof typeof IntegrationServiceId;

export interface HostSpec {
  name: string;
  cluster?: string;
  /** Windows Server 2012 R2 hosts have no recovery snapshots or RCT. */
  recoverySnapshots?: boolean;
  osVersion?: string;
}

export type DiskSpec =
  | { kind: 'Ntfs'; sizeBytes: number; files?: GuestFile[]; shared?: boolean }
  | { kind: 'Blank'; sizeBytes: number; shared?: boolean }
  | { kind: 'PassThrough'; diskNumber: number };

export interface VmSpec {
  name: string;
  /** The node that runs the VM. */
  owner: string;
  /** Folder on simulated storage (csv/<Volume>, smb/<server>/<share>, hosts/<node>/local) for the VM's disks. */
  storage: string;
  disks: DiskSpec[];
  generation?: 1 | 2;
  configurationVersion?: string;
  guest?: Partial<SimGuest>;
  integrationServices?: Partial<Record<IntegrationServiceKey, boolean>>;
  checkpointType?: CheckpointType;
  /** Defaults to the disks' folder; elsewhere rules out online backups. */
  snapshotLocation?: string;
  running?: boolean;
}

const defaultGuest: SimGuest = {
  os: 'Windows Server 2022 Datacenter',
  family: 'Windows',
  vssCapable: true,
  dynamicDisks: false,
  nonSnapshotFileSystem: false,
  shadowStorageElsewhere: false,
  integrationComponentsOutdated: false,
  integrationComponents: true,
  bootMs: 0,
  bootable: true,
};

/** A guest state file: a signature, then UEFI variables that differ from VM to VM. */
function simGuestState(): Buffer {
  return Buffer.concat([Buffer.from('SIMVMGS1'), randomBytes(64 * 1024 - 8)]);
}

export class SimCluster {
  readonly layout: Layout;

  constructor(root: string) {
    this.layout = new Layout(root);
  }

  async createHost(spec: HostSpec): Promise<SimHost> {
    const host: SimHost = {
      schema: 1,
      name: checkNodeName(spec.name),
      osVersion:
        spec.osVersion ??
        (spec.recoverySnapshots === false
          ? 'Windows Server 2012 R2 Datacenter'
          : 'Windows Server 2022 Datacenter'),
      hypervVersion: spec.recoverySnapshots === false ? '6.3.9600' : '10.0.20348',
      logicalProcessors: 16,
      memoryBytes: 128 * 1024 ** 3,
      recoverySnapshots: spec.recoverySnapshots ?? true,
      ...(spec.cluster === undefined ? {} : { cluster: checkNodeName(spec.cluster) }),
    };
    await mkdir(this.layout.localStorage(host.name), { recursive: true });
    if (host.cluster !== undefined) {
      await mkdir(this.layout.csvVolume('Volume1'), { recursive: true });
    }
    await writeJsonAtomic(this.layout.hostFile(host.name), host);
    return host;
  }

  async hosts(): Promise<SimHost[]> {
    const names = await readdir(`${this.layout.root}/hosts`).catch((): string[] => []);
    return Promise.all(names.map((n) => readJson<SimHost>(this.layout.hostFile(n), 'host')));
  }

  async createVm(spec: VmSpec): Promise<SimVm> {
    const host = await readJson<SimHost>(this.layout.hostFile(checkNodeName(spec.owner)), 'host').catch(
      () => {
        throw new HypervisorError('NotFound', `no simulated host ${spec.owner}; create it first`);
      },
    );
    const id = randomUUID();
    // Disk folders are named by VM id, never by the (free-text) VM name.
    const folder = `${resolve(spec.storage)}/${id}`;
    const place = this.layout.classify(folder);
    await mkdir(folder, { recursive: true });
    const disks: SimDisk[] = [];
    for (const [index, disk] of spec.disks.entries()) {
      disks.push(await this.createDisk(disk, `${folder}/disk${index}.vhdx`, index, spec.generation ?? 2));
    }
    const services = Object.fromEntries(
      Object.entries(IntegrationServiceId).map(([key, serviceId]) => [
        serviceId,
        spec.integrationServices?.[key as IntegrationServiceKey] ?? key !== 'guestServices',
      ]),
    );
    const now = new Date().toISOString();
    const vm: SimVm = {
      schema: 1,
      id,
      name: checkVmName(spec.name),
      generation: spec.generation ?? 2,
      configurationVersion: spec.configurationVersion ?? '9.0',
      state: spec.running ? 'Running' : 'Off',
      startedAt: now,
      owner: host.name,
      clustered: host.cluster !== undefined && place.kind !== 'Local',
      guest: { ...defaultGuest, ...spec.guest },
      integrationServices: services,
      checkpointType: spec.checkpointType ?? 'Production',
      snapshotLocation: spec.snapshotLocation === undefined ? folder : resolve(spec.snapshotLocation),
      changeTracking: true,
      disks,
      checkpoints: [],
      referencePoints: [],
      userCheckpoints: 0,
      faults: {},
    };
    this.layout.classify(vm.snapshotLocation);
    // A generation 2 VM's UEFI variables (boot entries, Secure Boot keys), as in Hyper-V's .vmgs.
    await registerVm(this.layout, vm, vm.generation === 2 ? simGuestState() : undefined);
    return vm;
  }

  async vm(vmId: string): Promise<SimVm> {
    return readJson<SimVm>(this.layout.vmFile(checkVmId(vmId)), 'VM').catch(() => {
      throw new HypervisorError('NotFound', `VM ${vmId} does not exist`);
    });
  }

  /** Finds a VM by id or by exact name; a name shared by several VMs must be given as an id. */
  async findVm(idOrName: string): Promise<SimVm> {
    const ids = await readdir(this.layout.vmsDir()).catch((): string[] => []);
    if (ids.includes(idOrName)) {
      return this.vm(idOrName);
    }
    const vms = await Promise.all(ids.map((id) => this.vm(id).catch(() => undefined)));
    const named = vms.filter((vm): vm is SimVm => vm?.name === idOrName);
    if (named.length !== 1 || !named[0]) {
      throw new HypervisorError(
        'NotFound',
        named.length === 0
          ? `no VM named ${JSON.stringify(idOrName)}`
          : `${named.length} VMs are named ${JSON.stringify(idOrName)}; use the id`,
      );
    }
    return named[0];
  }

  async setFaults(vmId: string, faults: SimFaults): Promise<void> {
    await this.update(vmId, (vm) => {
      vm.faults = { ...vm.faults, ...faults };
    });
  }

  async setIntegrationService(vmId: string, service: IntegrationServiceKey, enabled: boolean): Promise<void> {
    await this.update(vmId, (vm) => {
      vm.integrationServices[IntegrationServiceId[service]] = enabled;
    });
  }

  async setGuest(vmId: string, guest: Partial<SimGuest>): Promise<void> {
    await this.update(vmId, (vm) => {
      vm.guest = { ...vm.guest, ...guest };
    });
  }

  /**
   * The guest writes `data` at `offset` of one of its disks. Serialized with checkpoints by the VM
   * lock, and recorded in the disk's change log in the same step, so a checkpoint sees a write
   * either entirely (with its log record) or not at all.
   */
  async guestWrite(vmId: string, offset: number, data: Buffer, diskId?: string): Promise<void> {
    await withLock(this.layout.vmDir(vmId), `VM ${vmId}`, async () => {
      const vm = await this.vm(vmId);
      if (vm.state !== 'Running') {
        throw new HypervisorError(
          'InvalidState',
          `VM ${vm.name} is ${vm.state}; only a running guest writes`,
        );
      }
      const disk = vm.disks.find((d) => (diskId === undefined ? d.path !== undefined : d.id === diskId));
      if (disk?.path === undefined) {
        throw new HypervisorError('NotFound', `VM ${vm.name} has no virtual disk ${diskId ?? ''}`);
      }
      if (!Number.isSafeInteger(offset) || offset < 0 || offset + data.length > disk.virtualSize) {
        throw new HypervisorError(
          'InvalidState',
          `write ${offset}+${data.length} lies outside the ${disk.virtualSize}-byte disk`,
        );
      }
      // The range is logged before the data lands: a write cut short (a killed writer) then shows
      // as changed although it may not be, never the reverse, so no incremental can miss it.
      await recordChange(disk.path, { offset, length: data.length });
      await writeVhdx(disk.path, offset, data, `${tmpdir()}/shadowkeep-write-${randomUUID()}`);
    });
  }

  private async createDisk(spec: DiskSpec, path: string, index: number, generation: 1 | 2): Promise<SimDisk> {
    // Generation 1 boots from IDE; generation 2 has only SCSI.
    const slot = {
      id: randomUUID(),
      controllerType: generation === 1 && index === 0 ? ('IDE' as const) : ('SCSI' as const),
      controllerNumber: 0,
      controllerLocation: index,
      trackingId: randomUUID(),
    };
    if (spec.kind === 'PassThrough') {
      return { ...slot, passThroughDiskNumber: spec.diskNumber, shared: false, virtualSize: 0 };
    }
    if (spec.kind === 'Ntfs') {
      await createNtfsVhdx(path, spec.sizeBytes, spec.files ?? []);
    } else {
      await createBlankVhdx(path, spec.sizeBytes);
    }
    return { ...slot, path, shared: spec.shared ?? false, virtualSize: spec.sizeBytes };
  }

  private async update(vmId: string, change: (vm: SimVm) => void): Promise<void> {
    await withLock(this.layout.vmDir(vmId), `VM ${vmId}`, async () => {
      const vm = await this.vm(vmId);
      change(vm);
      await writeJsonAtomic(this.layout.vmFile(vmId), vm);
    });
  }
}
