import type { ByteSource } from '../common/byte-source.js';
import { hasGptSignature, readGpt } from './gpt.js';
import { GPT_PROTECTIVE_TYPE, parseMbrEntries, readMbr } from './mbr.js';
import type { PartitionTable } from './partition.js';

export {
  PartitionTableError,
  type Partition,
  type PartitionScheme,
  type PartitionTable,
} from './partition.js';

/**
 * Reads a disk's partition table: GPT when the MBR is protective (type 0xEE), MBR otherwise.
 * Returns null when sector 0 holds no partition table at all (a partitionless volume, or a blank disk).
 */
export async function readPartitionTable(disk: ByteSource): Promise<PartitionTable | null> {
  if (disk.size < 512) {
    return null;
  }
  const entries = parseMbrEntries(await disk.read(0, 512));
  if (!entries) {
    return null;
  }
  if (entries.some((e) => e.type === GPT_PROTECTIVE_TYPE)) {
    // 4Kn disks keep the GPT header at byte 4096; with neither signature present, 512 is the usual case.
    const sectorSize =
      !(await hasGptSignature(disk, 512)) && (await hasGptSignature(disk, 4096)) ? 4096 : 512;
    return readGpt(disk, sectorSize);
  }
  if (entries.every((e) => e.type === 0)) {
    return null;
  }
  return readMbr(disk, entries);
}
