import { CorruptVolumeError } from './errors.js';

export type FileSystemKind = 'ntfs' | 'refs' | 'fat' | 'unknown';

/** Identifies a volume from its first sector's OEM ID, without trusting anything else in it. */
export function detectFileSystem(bootSector: Buffer): FileSystemKind {
  const oem = bootSector.toString('latin1', 3, 11);
  if (oem === 'NTFS    ') {
    return 'ntfs';
  }
  if (oem.startsWith('ReFS')) {
    return 'refs';
  }
  if (bootSector.toString('latin1', 82, 87) === 'FAT32' || bootSector.toString('latin1', 54, 57) === 'FAT') {
    return 'fat';
  }
  return 'unknown';
}

export interface NtfsGeometry {
  bytesPerSector: number;
  clusterSize: number;
  totalClusters: number;
  mftLcn: number;
  mftRecordSize: number;
  indexBlockSize: number;
  serialNumber: string;
}

/** Cluster-count fields: positive means clusters, negative n means 2^-n bytes (0xF6 = 1024 bytes). */
function recordSize(raw: number, clusterSize: number): number {
  return raw >= 0 ? raw * clusterSize : 2 ** -raw;
}

const isPowerOfTwo = (n: number) => n > 0 && (n & (n - 1)) === 0;

export function parseBootSector(sector: Buffer, volumeSize: number): NtfsGeometry {
  if (detectFileSystem(sector) !== 'ntfs') {
    throw new CorruptVolumeError('not an NTFS volume (no "NTFS    " OEM ID in the boot sector)');
  }
  const bytesPerSector = sector.readUInt16LE(11);
  const rawSpc = sector.readUInt8(13);
  // Clusters of 128 KiB and more are stored as a negative power of two (Windows 10 1903+).
  const sectorsPerCluster = rawSpc > 0x80 ? 2 ** (256 - rawSpc) : rawSpc;
  const clusterSize = bytesPerSector * sectorsPerCluster;
  const totalSectors = Number(sector.readBigUInt64LE(40));
  const geometry: NtfsGeometry = {
    bytesPerSector,
    clusterSize,
    totalClusters: Math.floor(totalSectors / sectorsPerCluster),
    mftLcn: Number(sector.readBigUInt64LE(48)),
    mftRecordSize: recordSize(sector.readInt8(64), clusterSize),
    indexBlockSize: recordSize(sector.readInt8(68), clusterSize),
    serialNumber: sector.readBigUInt64LE(72).toString(16).toUpperCase().padStart(16, '0'),
  };
  const problems = [
    ![512, 1024, 2048, 4096].includes(bytesPerSector) && `bytes per sector ${bytesPerSector}`,
    !isPowerOfTwo(sectorsPerCluster) && `sectors per cluster ${rawSpc}`,
    !isPowerOfTwo(geometry.mftRecordSize) || geometry.mftRecordSize < 512 || geometry.mftRecordSize > 65536
      ? `MFT record size ${geometry.mftRecordSize}`
      : false,
    !isPowerOfTwo(geometry.indexBlockSize) || geometry.indexBlockSize < 512
      ? `index block size ${geometry.indexBlockSize}`
      : false,
    geometry.totalClusters * clusterSize > volumeSize + clusterSize &&
      `volume of ${totalSectors} sectors larger than its partition`,
    geometry.mftLcn >= geometry.totalClusters && `$MFT at cluster ${geometry.mftLcn}`,
  ].filter((p): p is string => typeof p === 'string');
  if (problems.length > 0) {
    throw new CorruptVolumeError(`NTFS boot sector is invalid: ${problems.join(', ')}`);
  }
  return geometry;
}
