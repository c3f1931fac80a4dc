/** One entry of a disk's partition table, in the units the rest of the code reads with (bytes). */
export interface Partition {
  /** 1-based, as the table numbers it: GPT entry index, or MBR 1–4 primary and 5+ logical. */
  number: number;
  /** Byte offset of the first sector on the disk. */
  start: number;
  /** Length in bytes. */
  size: number;
  /** GPT type GUID (upper case) or MBR type byte as `0x07`. */
  type: string;
  /** Human name of the type, such as `Microsoft basic data`; `unknown` when the table does not say. */
  typeName: string;
  /** GPT partition name; empty for MBR. */
  name: string;
}

export type PartitionScheme = 'gpt' | 'mbr';

export interface PartitionTable {
  scheme: PartitionScheme;
  sectorSize: number;
  partitions: Partition[];
  /** Damage that was worked around, such as a primary GPT header failing its CRC. */
  warnings: string[];
}

/** The disk's partition table cannot be used: no table, or every copy of it is damaged. */
export class PartitionTableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PartitionTableError';
  }
}
