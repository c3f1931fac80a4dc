import { sliceSource, type ByteSource } from '../common/byte-source.js';
import { detectFileSystem, type FileSystemKind } from '../ntfs/boot-sector.js';
import { UnsupportedError } from '../ntfs/errors.js';
import { NtfsVolume } from '../ntfs/volume.js';
import { readPartitionTable, type Partition, type PartitionTable } from '../partitions/index.js';

export interface VolumeInfo {
  /** Null when the disk has no partition table and is one volume. */
  partition: Partition | null;
  fileSystem: FileSystemKind;
}

/** Every volume on a disk with the file system its boot sector names. */
export async function listVolumes(
  disk: ByteSource,
): Promise<{ table: PartitionTable | null; volumes: VolumeInfo[] }> {
  const table = await readPartitionTable(disk);
  const candidates = table ? table.partitions : [null];
  const volumes = await Promise.all(
    candidates.map(async (partition) => {
      const source = partition ? sliceSource(disk, partition.start, partition.size) : disk;
      const fileSystem = source.size >= 512 ? detectFileSystem(await source.read(0, 512)) : 'unknown';
      return { partition, fileSystem };
    }),
  );
  return { table, volumes };
}

export class VolumeSelectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VolumeSelectionError';
  }
}

/** The chosen partition (1-based as in the table), or by default the largest NTFS one. */
export function chooseVolume(volumes: VolumeInfo[], partitionNumber?: number): VolumeInfo {
  if (partitionNumber !== undefined) {
    const chosen = volumes.find((v) => v.partition?.number === partitionNumber);
    if (!chosen) {
      const numbers = volumes.flatMap((v) => (v.partition ? [v.partition.number] : []));
      throw new VolumeSelectionError(
        `no partition ${partitionNumber} (the disk has ${numbers.length > 0 ? numbers.join(', ') : 'no partition table'})`,
      );
    }
    return chosen;
  }
  const ntfs = volumes
    .filter((v) => v.fileSystem === 'ntfs')
    .sort((a, b) => (b.partition?.size ?? 0) - (a.partition?.size ?? 0));
  const [largest] = ntfs;
  if (largest) {
    return largest;
  }
  const refs = volumes.find((v) => v.fileSystem === 'refs');
  if (refs) {
    return refs;
  }
  throw new VolumeSelectionError('the disk holds no NTFS volume');
}

/** Opens the volume to browse; ReFS is recognised and reported rather than misread. */
export async function openVolume(
  disk: ByteSource,
  partitionNumber?: number,
): Promise<{ info: VolumeInfo; volume: NtfsVolume }> {
  const { volumes } = await listVolumes(disk);
  const info = chooseVolume(volumes, partitionNumber);
  const where = info.partition ? `partition ${info.partition.number}` : 'the disk';
  if (info.fileSystem === 'refs') {
    throw new UnsupportedError(`${where} holds a ReFS volume; browsing ReFS is not supported yet`);
  }
  if (info.fileSystem !== 'ntfs') {
    throw new UnsupportedError(`${where} holds no NTFS volume (${info.fileSystem})`);
  }
  const source = info.partition ? sliceSource(disk, info.partition.start, info.partition.size) : disk;
  return { info, volume: await NtfsVolume.open(source) };
}
