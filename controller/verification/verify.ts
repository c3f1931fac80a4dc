/**
 * Proof of recoverability for one recovery point, read straight from the repository:
 * `Checksums` reads every chunk of every disk and checks it against its id; `Filesystem` also opens
 * every NTFS volume on the disks, scans the whole MFT and walks the directory tree from the root.
 * Nothing is written anywhere. `Boot` needs a host to start the VM on: the reconciler hands that
 * part to an agent (boot-test.ts) once these two levels passed.
 */
import { sliceSource } from '../common/byte-source.js';
import { formatBytes } from '../api/quantities.js';
import { openStoredDisk } from '../datapath/stored-disk.js';
import { buildCatalog } from '../ilr/catalog.js';
import { listVolumes } from '../ilr/open-volume.js';
import type { NtfsFile } from '../ntfs/file-record.js';
import { NtfsVolume } from '../ntfs/volume.js';
import { checkManifests } from '../repository/check.js';
import type { Repository } from '../repository/repository.js';

export type VerificationLevel = 'Checksums' | 'Filesystem' | 'Boot';

export interface VerificationOutcome {
  /** The level actually reached: a failure stops at the level that found it. */
  level: VerificationLevel;
  result: 'Passed' | 'Failed';
  /** CamelCase code for the condition and the Event. */
  reason:
    | 'ChunksVerified'
    | 'FilesystemsVerified'
    | 'Booted'
    | 'ChunksDamaged'
    | 'FilesystemDamaged'
    | 'BootFailed'
    | 'NoData';
  message: string;
  bytesVerified: number;
}

interface TreeCount {
  files: number;
  folders: number;
}

/** Every folder reachable from the root, each read once (hard links and loops cannot recurse). */
async function walkTree(
  volume: NtfsVolume,
  dir: NtfsFile,
  seen: Set<number>,
  count: TreeCount,
): Promise<void> {
  for await (const entry of volume.listDirectory(dir)) {
    if (seen.has(entry.reference.record)) {
      continue;
    }
    seen.add(entry.reference.record);
    const file = await volume.readFile(entry.reference);
    if (file.isDirectory) {
      count.folders++;
      await walkTree(volume, file, seen, count);
    } else {
      count.files++;
    }
  }
}

/** Opens and walks every NTFS volume of one stored disk; other file systems are counted, not read. */
async function walkDisk(
  repo: Repository,
  manifest: string,
): Promise<{ ntfs: number; other: string[]; count: TreeCount }> {
  const disk = await openStoredDisk(repo, manifest);
  const { volumes } = await listVolumes(disk);
  const count: TreeCount = { files: 0, folders: 0 };
  const other: string[] = [];
  let ntfs = 0;
  for (const info of volumes) {
    if (info.fileSystem !== 'ntfs') {
      other.push(info.fileSystem);
      continue;
    }
    const where = info.partition ? `partition ${info.partition.number}` : 'the disk';
    const source = info.partition ? sliceSource(disk, info.partition.start, info.partition.size) : disk;
    const volume = await NtfsVolume.open(source);
    const catalog = await buildCatalog(volume, {
      partition: info.partition?.number ?? null,
      volumeOffset: info.partition?.start ?? 0,
      chunkSize: disk.manifest.chunkSize,
    });
    if (catalog.unreadableRecords > 0) {
      throw new Error(
        `${where} of disk ${manifest}: ${catalog.unreadableRecords} MFT records cannot be read`,
      );
    }
    await walkTree(volume, await volume.resolve('/'), new Set(), count);
    ntfs++;
  }
  return { ntfs, other, count };
}

export async function verifyRecoveryPoint(
  repo: Repository,
  manifests: readonly string[],
  level: VerificationLevel,
): Promise<VerificationOutcome> {
  if (manifests.length === 0) {
    return {
      level,
      result: 'Failed',
      reason: 'NoData',
      message: 'the recovery point lists no disk data to verify',
      bytesVerified: 0,
    };
  }
  const report = await checkManifests(repo, manifests);
  if (report.problems.length > 0) {
    const first = report.problems[0];
    return {
      level: 'Checksums',
      result: 'Failed',
      reason: 'ChunksDamaged',
      message: `${report.problems.length} damaged object(s), first ${first?.object ?? ''}: ${first?.problem ?? ''}; this point cannot be fully restored: restore from an offsite copy or an older point, and run shadowkeep repo check --read-data on the repository`,
      bytesVerified: report.bytesVerified,
    };
  }
  const checked = `${report.chunksVerified} chunks (${formatBytes(report.bytesVerified)}) read back and verified`;
  if (level === 'Checksums') {
    return {
      level,
      result: 'Passed',
      reason: 'ChunksVerified',
      message: checked,
      bytesVerified: report.bytesVerified,
    };
  }
  const totals = { ntfs: 0, files: 0, folders: 0, other: [] as string[] };
  for (const manifest of manifests) {
    try {
      const disk = await walkDisk(repo, manifest);
      totals.ntfs += disk.ntfs;
      totals.files += disk.count.files;
      totals.folders += disk.count.folders;
      totals.other.push(...disk.other);
    } catch (err) {
      return {
        level: 'Filesystem',
        result: 'Failed',
        reason: 'FilesystemDamaged',
        message: `${checked}, but a file system does not open: ${err instanceof Error ? err.message : String(err)}; the disk restores, but files inside may be lost: check the guest's disks (chkdsk) and take a new backup`,
        bytesVerified: report.bytesVerified,
      };
    }
  }
  const skipped = totals.other.length > 0 ? `; not NTFS, not walked: ${totals.other.join(', ')}` : '';
  return {
    level: 'Filesystem',
    result: 'Passed',
    reason: 'FilesystemsVerified',
    message: `${checked}; ${totals.ntfs} NTFS volume(s) opened and walked: ${totals.files} files in ${totals.folders} folders${skipped}`,
    bytesVerified: report.bytesVerified,
  };
}
