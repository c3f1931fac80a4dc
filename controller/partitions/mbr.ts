import type { ByteSource } from '../common/byte-source.js';
import { PartitionTableError, type Partition, type PartitionTable } from './partition.js';

const SECTOR = 512;
export const GPT_PROTECTIVE_TYPE = 0xee;
const EXTENDED_TYPES = new Set([0x05, 0x0f, 0x85]);
/** A chain longer than this is a loop or garbage; real disks have a few dozen logical drives at most. */
const MAX_LOGICAL = 128;

const TYPE_NAMES: Readonly<Record<number, string>> = {
  0x01: 'FAT12',
  0x04: 'FAT16 <32M',
  0x06: 'FAT16',
  0x07: 'NTFS/exFAT/HPFS',
  0x0b: 'FAT32',
  0x0c: 'FAT32 (LBA)',
  0x0e: 'FAT16 (LBA)',
  0x27: 'Windows recovery environment',
  0x42: 'Windows dynamic disk',
  0x82: 'Linux swap',
  0x83: 'Linux',
  0x8e: 'Linux LVM',
  0xee: 'GPT protective',
};

interface MbrEntry {
  bootable: boolean;
  type: number;
  firstLba: number;
  sectors: number;
}

/** The four slots of an MBR or EBR sector; empty slots (type 0) are kept so slot numbers stay meaningful. */
export function parseMbrEntries(sector: Buffer): MbrEntry[] | null {
  if (sector.length < SECTOR || sector[510] !== 0x55 || sector[511] !== 0xaa) {
    return null;
  }
  const entries: MbrEntry[] = [];
  for (let i = 0; i < 4; i++) {
    const e = sector.subarray(446 + i * 16, 462 + i * 16);
    const status = e[0] ?? 0;
    // Boot code of a partitionless volume also ends in 55 AA; real MBR slots only use 0x00 or 0x80 here.
    if (status !== 0 && status !== 0x80) {
      return null;
    }
    entries.push({
      bootable: status === 0x80,
      type: e[4] ?? 0,
      firstLba: e.readUInt32LE(8),
      sectors: e.readUInt32LE(12),
    });
  }
  return entries;
}

function toPartition(number: number, entry: MbrEntry, firstLba: number, diskSize: number): Partition {
  const start = firstLba * SECTOR;
  const size = entry.sectors * SECTOR;
  if (start + size > diskSize) {
    throw new PartitionTableError(
      `MBR partition ${number} (${start}+${size} bytes) extends past the disk's ${diskSize} bytes`,
    );
  }
  const type = `0x${entry.type.toString(16).padStart(2, '0')}`;
  return { number, start, size, type, typeName: TYPE_NAMES[entry.type] ?? 'unknown', name: '' };
}

/**
 * Walks the chain of extended boot records: each EBR's first slot is a logical drive (relative to
 * that EBR), its second slot points at the next EBR (relative to the extended partition's start).
 */
async function readLogical(disk: ByteSource, extendedLba: number, firstNumber: number): Promise<Partition[]> {
  const logical: Partition[] = [];
  const seen = new Set<number>();
  let ebrLba = extendedLba;
  for (;;) {
    if (seen.has(ebrLba) || logical.length >= MAX_LOGICAL) {
      throw new PartitionTableError(`extended partition chain loops back to LBA ${ebrLba}`);
    }
    seen.add(ebrLba);
    if ((ebrLba + 1) * SECTOR > disk.size) {
      throw new PartitionTableError(`extended boot record at LBA ${ebrLba} is past the end of the disk`);
    }
    const entries = parseMbrEntries(await disk.read(ebrLba * SECTOR, SECTOR));
    if (!entries) {
      throw new PartitionTableError(`extended boot record at LBA ${ebrLba} has no 55 AA signature`);
    }
    const [drive, next] = entries;
    if (drive && drive.type !== 0 && drive.sectors > 0) {
      logical.push(toPartition(firstNumber + logical.length, drive, ebrLba + drive.firstLba, disk.size));
    }
    if (!next || !EXTENDED_TYPES.has(next.type) || next.sectors === 0) {
      return logical;
    }
    ebrLba = extendedLba + next.firstLba;
  }
}

/** Reads an MBR table whose sector 0 was already parsed into entries (primaries 1–4, logicals from 5). */
export async function readMbr(disk: ByteSource, entries: MbrEntry[]): Promise<PartitionTable> {
  const partitions: Partition[] = [];
  let logical: Partition[] = [];
  for (const [i, entry] of entries.entries()) {
    if (entry.type === 0 || entry.sectors === 0) {
      continue;
    }
    if (EXTENDED_TYPES.has(entry.type)) {
      logical = await readLogical(disk, entry.firstLba, 5);
      continue;
    }
    partitions.push(toPartition(i + 1, entry, entry.firstLba, disk.size));
  }
  return { scheme: 'mbr', sectorSize: SECTOR, partitions: [...partitions, ...logical], warnings: [] };
}
