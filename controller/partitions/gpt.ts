import { crc32 } from 'node:zlib';
import type { ByteSource } from '../common/byte-source.js';
import { PartitionTableError, type Partition, type PartitionTable } from './partition.js';

const SIGNATURE = 'EFI PART';
/** The specification's minimum entry array (128 × 128 bytes); far larger arrays mean a damaged header. */
const MAX_ENTRY_ARRAY_BYTES = 4 * 1024 * 1024;

const TYPE_NAMES: Readonly<Record<string, string>> = {
  'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7': 'Microsoft basic data',
  'E3C9E316-0B5C-4DB8-817D-F92DF00215AE': 'Microsoft reserved',
  'DE94BBA4-06D1-4D40-A16A-BFD50179D6AC': 'Windows recovery environment',
  'C12A7328-F81F-11D2-BA4B-00A0C93EC93B': 'EFI system',
  '5808C8AA-7E8F-42E0-85D2-E1E90434CFB3': 'Microsoft LDM metadata',
  'AF9B60A0-1431-4F62-BC68-3311714A69AD': 'Microsoft LDM data',
  'E75CAF8F-F680-4CEE-AFA3-B001E56EFC2D': 'Microsoft Storage Spaces',
  '0FC63DAF-8483-4772-8E79-3D69D8477DE4': 'Linux filesystem',
  '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F': 'Linux swap',
  'E6D6D379-F507-44C2-A23C-238F2A3DF928': 'Linux LVM',
};

interface GptHeader {
  myLba: bigint;
  alternateLba: bigint;
  firstUsableLba: bigint;
  lastUsableLba: bigint;
  entriesLba: bigint;
  entryCount: number;
  entrySize: number;
  entriesCrc: number;
}

/** Formats a GUID stored in the mixed-endian on-disk layout (first three fields little-endian). */
function formatGuid(bytes: Buffer): string {
  const hex = (b: Buffer) => b.toString('hex').toUpperCase();
  const le = (start: number, end: number) => hex(Buffer.from(bytes.subarray(start, end)).reverse());
  return `${le(0, 4)}-${le(4, 6)}-${le(6, 8)}-${hex(bytes.subarray(8, 10))}-${hex(bytes.subarray(10, 16))}`;
}

/** Validates one header sector; returns a reason string instead of throwing so the caller can fall back. */
function parseHeader(sector: Buffer, expectedLba: bigint): GptHeader | string {
  if (sector.toString('latin1', 0, 8) !== SIGNATURE) {
    return 'no "EFI PART" signature';
  }
  const headerSize = sector.readUInt32LE(12);
  if (headerSize < 92 || headerSize > sector.length) {
    return `header size ${headerSize} is invalid`;
  }
  const copy = Buffer.from(sector.subarray(0, headerSize));
  const stored = copy.readUInt32LE(16);
  copy.writeUInt32LE(0, 16);
  if (crc32(copy) !== stored) {
    return 'header CRC32 mismatch';
  }
  const header: GptHeader = {
    myLba: sector.readBigUInt64LE(24),
    alternateLba: sector.readBigUInt64LE(32),
    firstUsableLba: sector.readBigUInt64LE(40),
    lastUsableLba: sector.readBigUInt64LE(48),
    entriesLba: sector.readBigUInt64LE(72),
    entryCount: sector.readUInt32LE(80),
    entrySize: sector.readUInt32LE(84),
    entriesCrc: sector.readUInt32LE(88),
  };
  if (header.myLba !== expectedLba) {
    return `header says it lives at LBA ${header.myLba}, found at ${expectedLba}`;
  }
  if (
    header.entrySize < 128 ||
    header.entrySize % 8 !== 0 ||
    header.entryCount * header.entrySize > MAX_ENTRY_ARRAY_BYTES
  ) {
    return `entry array of ${header.entryCount} × ${header.entrySize} bytes is invalid`;
  }
  return header;
}

function parseEntries(array: Buffer, header: GptHeader, sectorSize: number, diskSize: number): Partition[] {
  const partitions: Partition[] = [];
  const lastLba = BigInt(Math.floor(diskSize / sectorSize) - 1);
  for (let i = 0; i < header.entryCount; i++) {
    const entry = array.subarray(i * header.entrySize, (i + 1) * header.entrySize);
    const type = formatGuid(entry.subarray(0, 16));
    if (type === '00000000-0000-0000-0000-000000000000') {
      continue;
    }
    const first = entry.readBigUInt64LE(32);
    const last = entry.readBigUInt64LE(40);
    if (last < first || last > lastLba) {
      throw new PartitionTableError(
        `GPT entry ${i + 1} spans LBA ${first}–${last}, outside the disk's ${lastLba + 1n} sectors`,
      );
    }
    const nameEnd = entry
      .subarray(56, 128)
      .findIndex((_, j, a) => j % 2 === 0 && a[j] === 0 && a[j + 1] === 0);
    partitions.push({
      number: i + 1,
      start: Number(first) * sectorSize,
      size: Number(last - first + 1n) * sectorSize,
      type,
      typeName: TYPE_NAMES[type] ?? 'unknown',
      name: entry.toString('utf16le', 56, nameEnd < 0 ? 128 : 56 + nameEnd),
    });
  }
  return partitions;
}

/** Reads one copy (primary or backup) completely, or explains why it is unusable. */
async function readCopy(disk: ByteSource, sectorSize: number, lba: bigint): Promise<Partition[] | string> {
  if ((lba + 1n) * BigInt(sectorSize) > BigInt(disk.size)) {
    return `LBA ${lba} is past the end of the disk`;
  }
  const header = parseHeader(await disk.read(Number(lba) * sectorSize, sectorSize), lba);
  if (typeof header === 'string') {
    return header;
  }
  const arrayBytes = header.entryCount * header.entrySize;
  const arrayStart = Number(header.entriesLba) * sectorSize;
  if (arrayStart + arrayBytes > disk.size) {
    return 'entry array lies past the end of the disk';
  }
  const array = await disk.read(arrayStart, arrayBytes);
  if (crc32(array) !== header.entriesCrc) {
    return 'entry array CRC32 mismatch';
  }
  return parseEntries(array, header, sectorSize, disk.size);
}

/**
 * Reads the GPT, preferring the primary copy at LBA 1 and falling back to the backup in the disk's
 * last sector when the primary fails its checks (the situation the backup exists for).
 */
export async function readGpt(disk: ByteSource, sectorSize: number): Promise<PartitionTable> {
  const primary = await readCopy(disk, sectorSize, 1n);
  if (typeof primary !== 'string') {
    return { scheme: 'gpt', sectorSize, partitions: primary, warnings: [] };
  }
  const backupLba = BigInt(Math.floor(disk.size / sectorSize) - 1);
  const backup = await readCopy(disk, sectorSize, backupLba);
  if (typeof backup !== 'string') {
    return {
      scheme: 'gpt',
      sectorSize,
      partitions: backup,
      warnings: [`primary GPT unusable (${primary}); using the backup copy`],
    };
  }
  throw new PartitionTableError(`GPT unusable: primary ${primary}; backup ${backup}`);
}

/** Whether a GPT header signature sits at LBA 1 for this sector size (used to detect the sector size). */
export async function hasGptSignature(disk: ByteSource, sectorSize: number): Promise<boolean> {
  if (disk.size < sectorSize * 2) {
    return false;
  }
  return (await disk.read(sectorSize, 8)).toString('latin1') === SIGNATURE;
}
