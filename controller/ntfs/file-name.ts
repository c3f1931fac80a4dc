import { CorruptVolumeError } from './errors.js';
import { readReference, type FileReference } from './mft-record.js';

/** Which naming rules a $FILE_NAME follows; DOS-only names are 8.3 aliases of a Win32 name. */
export const Namespace = { posix: 0, win32: 1, dos: 2, win32AndDos: 3 } as const;

/** 100 ns intervals between 1601-01-01 and 1970-01-01. */
const EPOCH_DIFFERENCE = 116444736000000000n;

function fromFileTime(raw: bigint): Date {
  return new Date(Number((raw - EPOCH_DIFFERENCE) / 10000n));
}

export interface FileName {
  parent: FileReference;
  name: string;
  namespace: number;
  /** Sizes as recorded with the name; NTFS updates them lazily, so $DATA is the authority. */
  dataSize: number;
  fileAttributes: number;
}

export function parseFileName(value: Buffer): FileName {
  if (value.length < 66) {
    throw new CorruptVolumeError(`$FILE_NAME of ${value.length} bytes is too short`);
  }
  const nameLength = value[64] ?? 0;
  if (66 + nameLength * 2 > value.length) {
    throw new CorruptVolumeError('$FILE_NAME name overruns the attribute');
  }
  return {
    parent: readReference(value, 0),
    dataSize: Number(value.readBigUInt64LE(48)),
    fileAttributes: value.readUInt32LE(56),
    namespace: value[65] ?? 0,
    name: value.toString('utf16le', 66, 66 + nameLength * 2),
  };
}

export const FileAttribute = {
  readOnly: 0x1,
  hidden: 0x2,
  system: 0x4,
  directory: 0x10000000,
  sparse: 0x200,
  reparsePoint: 0x400,
  compressed: 0x800,
  encrypted: 0x4000,
} as const;

export interface Timestamps {
  created: Date;
  modified: Date;
  mftChanged: Date;
  accessed: Date;
}

export interface StandardInformation extends Timestamps {
  fileAttributes: number;
}

export function parseStandardInformation(value: Buffer): StandardInformation {
  if (value.length < 36) {
    throw new CorruptVolumeError(`$STANDARD_INFORMATION of ${value.length} bytes is too short`);
  }
  return {
    created: fromFileTime(value.readBigUInt64LE(0)),
    modified: fromFileTime(value.readBigUInt64LE(8)),
    mftChanged: fromFileTime(value.readBigUInt64LE(16)),
    accessed: fromFileTime(value.readBigUInt64LE(24)),
    fileAttributes: value.readUInt32LE(32),
  };
}
