/**
 * The simulator's stand-in for a VM's firmware and boot loader. A simulated guest has no operating
 * system to run, so "it boots" means what a real start needs first from the boot disk: a partition
 * table (or a whole-disk volume) leading to a file system whose root folder the boot loader can read.
 * A restore that wrote zeros, garbage or a damaged NTFS to the boot disk therefore never sends a
 * heartbeat, as on Hyper-V.
 */
import { openVirtualDisk } from '../../disk/open.js';
import { listVolumes, openVolume } from '../../ilr/open-volume.js';
import type { SimDisk, SimVm } from './config.js';

const slotOf = (disk: SimDisk): string =>
  `${disk.controllerType} ${disk.controllerNumber}:${disk.controllerLocation}`;

/** Generation 1 boots from the first IDE disk, generation 2 from the first SCSI disk. */
export function bootDisk(vm: SimVm): SimDisk | undefined {
  const bus = vm.generation === 1 ? 'IDE' : 'SCSI';
  return vm.disks
    .filter((d) => d.controllerType === bus && d.path !== undefined)
    .sort(
      (a, b) => a.controllerNumber - b.controllerNumber || a.controllerLocation - b.controllerLocation,
    )[0];
}

/** Why the VM cannot boot from its disks, or undefined when it can. */
export async function bootProblem(vm: SimVm, hasGuestState: boolean): Promise<string | undefined> {
  if (vm.generation === 2 && !hasGuestState) {
    return 'the guest state file (.vmgs) is missing: a generation 2 VM keeps its UEFI boot entries there';
  }
  const disk = bootDisk(vm);
  if (disk?.path === undefined) {
    return `no boot device: generation ${vm.generation} VMs boot from a ${vm.generation === 1 ? 'IDE' : 'SCSI'} virtual disk and ${vm.name} has none`;
  }
  let opened;
  try {
    opened = await openVirtualDisk(disk.path);
  } catch (err) {
    return `the boot disk ${slotOf(disk)} cannot be read: ${err instanceof Error ? err.message : String(err)}`;
  }
  try {
    const { volumes } = await listVolumes(opened);
    if (volumes.every((v) => v.fileSystem === 'unknown')) {
      return `no operating system found on the boot disk ${slotOf(disk)}: it holds no partition with a file system`;
    }
    if (volumes.some((v) => v.fileSystem === 'ntfs')) {
      const { volume } = await openVolume(opened);
      await volume.resolve('/');
    }
    return undefined;
  } catch (err) {
    return `the boot volume on ${slotOf(disk)} does not load: ${err instanceof Error ? err.message : String(err)}`;
  } finally {
    await opened.close();
  }
}
