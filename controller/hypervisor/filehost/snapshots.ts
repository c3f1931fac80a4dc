/**
 * The checkpoint mechanics of the filehost. A checkpoint is taken while holding the VM lock, which
 * every guest write also takes: writes that finished before the freeze are in the copy, writes after
 * it wait and land only on the live disk. So the copy equals the disk exactly at `pointInTime`, the
 * same guarantee a VSS freeze or an AVHDX switch gives on Hyper-V.
 */
import { constants } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { IntegrationServiceId, type DiskChanges, type ReferencePoint } from '../types.js';
import type { SimCheckpoint, SimCheckpointDisk, SimDisk, SimVm } from './config.js';
import { guestAnswers } from './inventory.js';
import { changeSequence, changesBetween, parseRctId } from './tracking.js';

/** Why the guest cannot make an online snapshot application-consistent now, or undefined when it can. */
export function onlineRefusal(vm: SimVm, now: Date): { reason: string; transient: boolean } | undefined {
  const refusals: [boolean | undefined, string][] = [
    [
      vm.integrationServices[IntegrationServiceId.backup] !== true,
      'the Backup integration service is disabled',
    ],
    [!guestAnswers(vm, now), 'the guest does not answer its integration services'],
    [vm.guest.vssCapable === false, `the guest OS (${vm.guest.os}) has no volume shadow copy support`],
    [vm.guest.dynamicDisks, 'the guest uses dynamic disks'],
    [vm.guest.nonSnapshotFileSystem, 'a guest volume is neither NTFS nor ReFS'],
    [vm.guest.shadowStorageElsewhere, "the guest's shadow storage is on another volume"],
    [vm.guest.integrationComponentsOutdated, "the guest's integration services are outdated"],
  ];
  const found = refusals.find(([fails]) => fails === true);
  if (found) {
    return { reason: found[1], transient: false };
  }
  if (vm.faults.vssWriterTimeout) {
    return { reason: 'a guest VSS writer timed out (0x800423F2)', transient: true };
  }
  return undefined;
}

/**
 * Copies each disk to the checkpoint folder and notes how far its change log had got. Must run under
 * the VM lock. The clone is a reflink where the file system supports it, a plain copy otherwise.
 */
export async function freezeDisks(
  disks: readonly SimDisk[],
  folder: string,
  slowDiskMs: number,
): Promise<SimCheckpointDisk[]> {
  await mkdir(folder, { recursive: true });
  const frozen: SimCheckpointDisk[] = [];
  for (const disk of disks) {
    if (disk.path === undefined) {
      continue;
    }
    const path = `${folder}/${disk.id}.vhdx`;
    await copyFile(disk.path, path, constants.COPYFILE_FICLONE);
    if (slowDiskMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, slowDiskMs));
    }
    frozen.push({
      diskId: disk.id,
      path,
      trackingId: disk.trackingId,
      sequence: await changeSequence(disk.path),
    });
  }
  return frozen;
}

/** What changed on each disk of `checkpoint` since `since`, or why everything must be read. */
export async function changesSince(
  vm: SimVm,
  checkpoint: SimCheckpoint,
  since: ReferencePoint | undefined,
  tracking: boolean,
): Promise<DiskChanges[]> {
  const liveDisks = new Map(vm.disks.map((d) => [d.id, d]));
  return Promise.all(
    checkpoint.disks.map(async (disk): Promise<DiskChanges> => {
      const all = (reason: 'NoReference' | 'TrackingLost' | 'Unsupported', detail: string): DiskChanges => ({
        kind: 'All',
        diskId: disk.diskId,
        reason,
        detail,
      });
      if (!tracking) {
        return all(
          'Unsupported',
          'change tracking is not available for this VM (host before 2016 or configuration version below 8.0)',
        );
      }
      if (since?.vmId !== vm.id) {
        return all('NoReference', 'no earlier recovery point of this VM to compare with');
      }
      const base = since.disks.find((d) => d.diskId === disk.diskId);
      if (!base) {
        return all('NoReference', 'the disk was added after the reference point');
      }
      if (!vm.referencePoints.some((r) => r.id === since.id)) {
        return all('TrackingLost', `reference point ${since.id} no longer exists on the VM`);
      }
      const parsed = parseRctId(base.trackingId);
      const live = liveDisks.get(disk.diskId);
      if (
        parsed?.trackingId !== disk.trackingId ||
        live?.trackingId !== disk.trackingId ||
        parsed.sequence > disk.sequence ||
        live.path === undefined
      ) {
        return all(
          'TrackingLost',
          'the disk was moved or its change tracking was reset since the reference point',
        );
      }
      return {
        kind: 'Ranges',
        diskId: disk.diskId,
        ranges: await changesBetween(live.path, parsed.sequence, disk.sequence),
      };
    }),
  );
}
