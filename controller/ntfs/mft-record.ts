import { CorruptVolumeError } from './errors.js';
import { applyFixups } from './fixups.js';
import { decodeRunlist, type Run } from './runlist.js';

export const AttributeType = {
  standardInformation: 0x10,
  attributeList: 0x20,
  fileName: 0x30,
  data: 0x80,
  indexRoot: 0x90,
  indexAllocation: 0xa0,
  bitmap: 0xb0,
  reparsePoint: 0xc0,
  end: 0xffffffff,
} as const;

export const AttributeFlags = { compressed: 0x0001, encrypted: 0x4000, sparse: 0x8000 } as const;

/** A reference to an MFT record: the record number and the sequence number it must still carry. */
export interface FileReference {
  record: number;
  sequence: number;
}

export function readReference(buf: Buffer, offset: number): FileReference {
  return { record: buf.readUIntLE(offset, 6), sequence: buf.readUInt16LE(offset + 6) };
}

interface AttributeCommon {
  type: number;
  name: string;
  flags: number;
  /** Identifies the attribute within its record; attribute lists refer to it. */
  instance: number;
}

export interface ResidentAttribute extends AttributeCommon {
  resident: true;
  value: Buffer;
}

export interface NonResidentAttribute extends AttributeCommon {
  resident: false;
  lowestVcn: number;
  highestVcn: number;
  runs: Run[];
  /** log2 of the compression unit in clusters (4 = 16 clusters); 0 when not compressed. */
  compressionUnit: number;
  allocatedSize: number;
  dataSize: number;
  initializedSize: number;
}

export type Attribute = ResidentAttribute | NonResidentAttribute;

export interface MftRecord {
  number: number;
  sequence: number;
  inUse: boolean;
  isDirectory: boolean;
  /** For an extension record, the base record whose attribute list points here. */
  baseRecord: FileReference | null;
  attributes: Attribute[];
}

function parseAttribute(record: Buffer, offset: number, totalClusters: number, where: string): Attribute {
  const length = record.readUInt32LE(offset + 4);
  if (length < 24 || offset + length > record.length) {
    throw new CorruptVolumeError(`${where}: attribute at ${offset} has length ${length}`);
  }
  const attr = record.subarray(offset, offset + length);
  const nameLength = attr[9] ?? 0;
  const nameOffset = attr.readUInt16LE(10);
  if (nameOffset + nameLength * 2 > length) {
    throw new CorruptVolumeError(`${where}: attribute name at ${offset} overruns the attribute`);
  }
  const common: AttributeCommon = {
    type: attr.readUInt32LE(0),
    name: attr.toString('utf16le', nameOffset, nameOffset + nameLength * 2),
    flags: attr.readUInt16LE(12),
    instance: attr.readUInt16LE(14),
  };
  if (attr[8] === 0) {
    const valueLength = attr.readUInt32LE(16);
    const valueOffset = attr.readUInt16LE(20);
    if (valueOffset + valueLength > length) {
      throw new CorruptVolumeError(`${where}: resident value at ${offset} overruns the attribute`);
    }
    return {
      ...common,
      resident: true,
      value: Buffer.from(attr.subarray(valueOffset, valueOffset + valueLength)),
    };
  }
  if (length < 64) {
    throw new CorruptVolumeError(`${where}: non-resident attribute at ${offset} is too short`);
  }
  const lowestVcn = Number(attr.readBigUInt64LE(16));
  const runlistOffset = attr.readUInt16LE(32);
  if (runlistOffset >= length) {
    throw new CorruptVolumeError(`${where}: runlist of attribute at ${offset} starts past its end`);
  }
  const runs = decodeRunlist(attr.subarray(runlistOffset), lowestVcn, totalClusters);
  const sizes = {
    allocatedSize: Number(attr.readBigUInt64LE(40)),
    dataSize: Number(attr.readBigUInt64LE(48)),
    initializedSize: Number(attr.readBigUInt64LE(56)),
  };
  return {
    ...common,
    resident: false,
    lowestVcn,
    highestVcn: Number(attr.readBigInt64LE(24)),
    runs,
    compressionUnit: attr.readUInt16LE(34),
    ...sizes,
  };
}

/** Parses one MFT record (fixups applied to a copy). Unused records come back with no attributes. */
export function parseMftRecord(raw: Buffer, number: number, totalClusters: number): MftRecord {
  const where = `MFT record ${number}`;
  const record = Buffer.from(raw);
  const magic = record.toString('latin1', 0, 4);
  if (magic !== 'FILE') {
    if (magic === '\0\0\0\0') {
      return { number, sequence: 0, inUse: false, isDirectory: false, baseRecord: null, attributes: [] };
    }
    throw new CorruptVolumeError(`${where}: bad signature ${JSON.stringify(magic)}`);
  }
  applyFixups(record, where);
  const flags = record.readUInt16LE(22);
  // NTFS 3.1 records in use carry their own number (the update sequence array then starts at 0x30):
  // a mismatch means the MFT's runlist sent us to the wrong place. Preformatted free records may not.
  if ((flags & 1) !== 0 && record.readUInt16LE(4) >= 0x30 && record.readUInt32LE(44) !== number) {
    throw new CorruptVolumeError(`${where}: found record ${record.readUInt32LE(44)} in its place`);
  }
  const base = readReference(record, 32);
  const result: MftRecord = {
    number,
    sequence: record.readUInt16LE(16),
    inUse: (flags & 1) !== 0,
    isDirectory: (flags & 2) !== 0,
    baseRecord: base.record === 0 && base.sequence === 0 ? null : base,
    attributes: [],
  };
  if (!result.inUse) {
    return result;
  }
  const used = Math.min(record.readUInt32LE(24), record.length);
  let offset = record.readUInt16LE(20);
  while (offset + 4 <= used) {
    if (record.readUInt32LE(offset) === AttributeType.end) {
      return result;
    }
    if (offset + 16 > used) {
      break;
    }
    const attribute = parseAttribute(record, offset, totalClusters, where);
    result.attributes.push(attribute);
    offset += record.readUInt32LE(offset + 4);
  }
  throw new CorruptVolumeError(
    `${where}: attribute list runs past the record's used size without an end marker`,
  );
}

export interface AttributeListEntry {
  type: number;
  name: string;
  lowestVcn: number;
  reference: FileReference;
}

/** $ATTRIBUTE_LIST value: where each attribute (or each piece of a long runlist) of a file lives. */
export function parseAttributeList(value: Buffer): AttributeListEntry[] {
  const entries: AttributeListEntry[] = [];
  let offset = 0;
  while (offset + 26 <= value.length) {
    const length = value.readUInt16LE(offset + 4);
    const nameLength = value[offset + 6] ?? 0;
    const nameOffset = value[offset + 7] ?? 0;
    if (length < 26 || offset + length > value.length || nameOffset + nameLength * 2 > length) {
      throw new CorruptVolumeError(`attribute list entry at ${offset} is malformed`);
    }
    entries.push({
      type: value.readUInt32LE(offset),
      name: value.toString('utf16le', offset + nameOffset, offset + nameOffset + nameLength * 2),
      lowestVcn: Number(value.readBigUInt64LE(offset + 8)),
      reference: readReference(value, offset + 16),
    });
    offset += length;
  }
  return entries;
}
