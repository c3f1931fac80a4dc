/**
 * The on-disk structures of MS-VHDX, as pure encode/decode functions shared by the reader, our
 * dynamic VHDX writer and the test fixtures that build files qemu cannot make. No I/O here.
 * All integers are little-endian; GUIDs use Microsoft's mixed-endian layout.
 */
import { crc32cWithZeroedField } from './crc32c.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;

export const FILE_SIGNATURE = 'vhdxfile';
export const HEADER_OFFSETS = [64 * KiB, 128 * KiB] as const;
export const HEADER_SIZE = 4 * KiB;
export const REGION_TABLE_OFFSETS = [192 * KiB, 256 * KiB] as const;
export const REGION_TABLE_SIZE = 64 * KiB;
export const METADATA_TABLE_SIZE = 64 * KiB;

export const Guids = {
  batRegion: '2dc27766-f623-4200-9d64-115e9bfd4a08',
  metadataRegion: '8b7ca206-4790-4b9a-b8fe-575f050f886e',
  fileParameters: 'caa16737-fa36-4d43-b3b6-33f0aa44e76b',
  virtualDiskSize: '2fa54224-cd1b-4876-b211-5dbed83bf4b8',
  page83Data: 'beca12ab-b2e6-4523-93ef-c309e000c746',
  logicalSectorSize: '8141bf1d-a96f-4709-ba47-f233a8faab5f',
  physicalSectorSize: 'cda348c7-445d-4471-9cc9-e9885251c556',
  parentLocator: 'a8d35f2d-b30b-454d-abf7-d3d84834ab0c',
  vhdxParentLocatorType: 'b04aefb7-d19e-4a81-b789-25b8e9445913',
} as const;

export const ZERO_GUID = '00000000-0000-0000-0000-000000000000';

/** Payload and sector-bitmap block states (BAT entry bits 0-2). */
export const BlockState = {
  notPresent: 0,
  undefined: 1,
  zero: 2,
  unmapped: 3,
  /** Value from the 0.95 draft of the specification; qemu accepts it as unmapped, so do we. */
  unmappedDraft: 5,
  fullyPresent: 6,
  partiallyPresent: 7,
} as const;

export function parseGuid(buf: Uint8Array, offset: number): string {
  const b = Buffer.from(buf.buffer, buf.byteOffset + offset, 16);
  const hex = (start: number, end: number, reverse: boolean): string => {
    const part = Buffer.from(b.subarray(start, end));
    return (reverse ? part.reverse() : part).toString('hex');
  };
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`;
}

export function encodeGuid(guid: string, target: Buffer, offset: number): void {
  const hex = guid.replace(/[{}-]/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) {
    throw new Error(`not a GUID: ${guid}`);
  }
  const raw = Buffer.from(hex, 'hex');
  Buffer.from(raw.subarray(0, 4)).reverse().copy(target, offset);
  Buffer.from(raw.subarray(4, 6))
    .reverse()
    .copy(target, offset + 4);
  Buffer.from(raw.subarray(6, 8))
    .reverse()
    .copy(target, offset + 6);
  raw.copy(target, offset + 8, 8, 16);
}

export interface VhdxHeader {
  sequenceNumber: bigint;
  fileWriteGuid: string;
  dataWriteGuid: string;
  logGuid: string;
  logVersion: number;
  version: number;
  logLength: number;
  logOffset: number;
}

/** Decodes one of the two headers; returns why it is unusable instead, so the other can be tried. */
export function decodeHeader(buf: Buffer): VhdxHeader | string {
  if (buf.toString('latin1', 0, 4) !== 'head') {
    return "missing 'head' signature";
  }
  if (buf.readUInt32LE(4) !== crc32cWithZeroedField(buf.subarray(0, HEADER_SIZE), 4)) {
    return 'checksum mismatch';
  }
  return {
    sequenceNumber: buf.readBigUInt64LE(8),
    fileWriteGuid: parseGuid(buf, 16),
    dataWriteGuid: parseGuid(buf, 32),
    logGuid: parseGuid(buf, 48),
    logVersion: buf.readUInt16LE(64),
    version: buf.readUInt16LE(66),
    logLength: buf.readUInt32LE(68),
    logOffset: Number(buf.readBigUInt64LE(72)),
  };
}

export function encodeHeader(h: VhdxHeader): Buffer {
  const buf = Buffer.alloc(HEADER_SIZE);
  buf.write('head', 0, 'latin1');
  buf.writeBigUInt64LE(h.sequenceNumber, 8);
  encodeGuid(h.fileWriteGuid, buf, 16);
  encodeGuid(h.dataWriteGuid, buf, 32);
  encodeGuid(h.logGuid, buf, 48);
  buf.writeUInt16LE(h.logVersion, 64);
  buf.writeUInt16LE(h.version, 66);
  buf.writeUInt32LE(h.logLength, 68);
  buf.writeBigUInt64LE(BigInt(h.logOffset), 72);
  buf.writeUInt32LE(crc32cWithZeroedField(buf, 4), 4);
  return buf;
}

export interface RegionEntry {
  guid: string;
  fileOffset: number;
  length: number;
  required: boolean;
}

export function decodeRegionTable(buf: Buffer): RegionEntry[] | string {
  if (buf.toString('latin1', 0, 4) !== 'regi') {
    return "missing 'regi' signature";
  }
  if (buf.readUInt32LE(4) !== crc32cWithZeroedField(buf.subarray(0, REGION_TABLE_SIZE), 4)) {
    return 'checksum mismatch';
  }
  const count = buf.readUInt32LE(8);
  if (count > 2047) {
    return `entry count ${count} exceeds 2047`;
  }
  const entries: RegionEntry[] = [];
  for (let i = 0; i < count; i++) {
    const at = 16 + i * 32;
    entries.push({
      guid: parseGuid(buf, at),
      fileOffset: Number(buf.readBigUInt64LE(at + 16)),
      length: buf.readUInt32LE(at + 24),
      required: (buf.readUInt32LE(at + 28) & 1) === 1,
    });
  }
  return entries;
}

export function encodeRegionTable(entries: readonly RegionEntry[]): Buffer {
  const buf = Buffer.alloc(REGION_TABLE_SIZE);
  buf.write('regi', 0, 'latin1');
  buf.writeUInt32LE(entries.length, 8);
  entries.forEach((e, i) => {
    const at = 16 + i * 32;
    encodeGuid(e.guid, buf, at);
    buf.writeBigUInt64LE(BigInt(e.fileOffset), at + 16);
    buf.writeUInt32LE(e.length, at + 24);
    buf.writeUInt32LE(e.required ? 1 : 0, at + 28);
  });
  buf.writeUInt32LE(crc32cWithZeroedField(buf, 4), 4);
  return buf;
}

export interface MetadataEntry {
  itemId: string;
  /** Relative to the start of the metadata region. */
  offset: number;
  length: number;
  isUser: boolean;
  isVirtualDisk: boolean;
  isRequired: boolean;
}

export function decodeMetadataTable(buf: Buffer): MetadataEntry[] | string {
  if (buf.toString('latin1', 0, 8) !== 'metadata') {
    return "missing 'metadata' signature";
  }
  const count = buf.readUInt16LE(10);
  if (count > 2047) {
    return `entry count ${count} exceeds 2047`;
  }
  const entries: MetadataEntry[] = [];
  for (let i = 0; i < count; i++) {
    const at = 32 + i * 32;
    const flags = buf.readUInt32LE(at + 24);
    entries.push({
      itemId: parseGuid(buf, at),
      offset: buf.readUInt32LE(at + 16),
      length: buf.readUInt32LE(at + 20),
      isUser: (flags & 1) !== 0,
      isVirtualDisk: (flags & 2) !== 0,
      isRequired: (flags & 4) !== 0,
    });
  }
  return entries;
}

/** Lays out a metadata region: the table, then each item's value from 64 KiB on. */
export function encodeMetadataRegion(
  items: readonly { itemId: string; value: Buffer; isVirtualDisk: boolean }[],
  regionLength: number,
): Buffer {
  const buf = Buffer.alloc(regionLength);
  buf.write('metadata', 0, 'latin1');
  buf.writeUInt16LE(items.length, 10);
  let valueOffset = METADATA_TABLE_SIZE;
  items.forEach((item, i) => {
    const at = 32 + i * 32;
    encodeGuid(item.itemId, buf, at);
    buf.writeUInt32LE(valueOffset, at + 16);
    buf.writeUInt32LE(item.value.length, at + 20);
    buf.writeUInt32LE((item.isVirtualDisk ? 2 : 0) | 4, at + 24);
    item.value.copy(buf, valueOffset);
    valueOffset += Math.ceil(item.value.length / 8) * 8;
  });
  if (valueOffset > regionLength) {
    throw new Error(`metadata items need ${valueOffset} bytes, region has ${regionLength}`);
  }
  return buf;
}

/** Payload blocks per sector-bitmap block: how many BAT payload entries sit between bitmap entries. */
export function chunkRatio(blockSize: number, logicalSectorSize: number): number {
  return (2 ** 23 * logicalSectorSize) / blockSize;
}

/** Index in the BAT of payload block `block`: each run of `ratio` payload entries is followed by a bitmap entry. */
export function payloadEntryIndex(block: number, ratio: number): number {
  return block + Math.floor(block / ratio);
}

export function bitmapEntryIndex(chunk: number, ratio: number): number {
  return (chunk + 1) * (ratio + 1) - 1;
}

/** Entries the BAT must hold (qemu's vhdx_calc_bat_entries): differencing disks carry every bitmap entry. */
export function batEntryCount(
  virtualSize: number,
  blockSize: number,
  logicalSectorSize: number,
  hasParent: boolean,
): number {
  const ratio = chunkRatio(blockSize, logicalSectorSize);
  const payloadBlocks = Math.ceil(virtualSize / blockSize);
  if (hasParent) {
    return Math.ceil(payloadBlocks / ratio) * (ratio + 1);
  }
  return payloadBlocks + Math.floor((payloadBlocks - 1) / ratio);
}

export function encodeBatEntry(state: number, fileOffset: number): bigint {
  return BigInt(fileOffset) | BigInt(state);
}

export function decodeBatEntry(entry: bigint): { state: number; fileOffset: number } {
  return { state: Number(entry & 7n), fileOffset: Number(entry & 0xfffffffffff00000n) };
}

/** Parent locator key/value pairs (UTF-16LE strings) of a differencing disk. */
export function decodeParentLocator(buf: Buffer): { type: string; entries: Map<string, string> } | string {
  if (buf.length < 20) {
    return 'parent locator is shorter than its header';
  }
  const type = parseGuid(buf, 0);
  const count = buf.readUInt16LE(18);
  const entries = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const at = 20 + i * 12;
    if (at + 12 > buf.length) {
      return 'parent locator entries run past the item';
    }
    const keyOffset = buf.readUInt32LE(at);
    const valueOffset = buf.readUInt32LE(at + 4);
    const keyLength = buf.readUInt16LE(at + 8);
    const valueLength = buf.readUInt16LE(at + 10);
    if (keyOffset + keyLength > buf.length || valueOffset + valueLength > buf.length) {
      return 'parent locator key or value runs past the item';
    }
    entries.set(
      buf.toString('utf16le', keyOffset, keyOffset + keyLength),
      buf.toString('utf16le', valueOffset, valueOffset + valueLength),
    );
  }
  return { type, entries };
}

export function encodeParentLocator(entries: ReadonlyMap<string, string>): Buffer {
  const header = Buffer.alloc(20 + entries.size * 12);
  encodeGuid(Guids.vhdxParentLocatorType, header, 0);
  header.writeUInt16LE(entries.size, 18);
  const strings: Buffer[] = [];
  let offset = header.length;
  let i = 0;
  for (const [key, value] of entries) {
    const k = Buffer.from(key, 'utf16le');
    const v = Buffer.from(value, 'utf16le');
    const at = 20 + i * 12;
    header.writeUInt32LE(offset, at);
    header.writeUInt32LE(offset + k.length, at + 4);
    header.writeUInt16LE(k.length, at + 8);
    header.writeUInt16LE(v.length, at + 10);
    strings.push(k, v);
    offset += k.length + v.length;
    i++;
  }
  return Buffer.concat([header, ...strings]);
}

export const LOG_ENTRY_HEADER_SIZE = 64;

/** Whether `buf` starts with a log entry of `logGuid` whose checksum holds: one that would need replay. */
export function isValidLogEntry(buf: Buffer, logGuid: string): boolean {
  if (buf.length < LOG_ENTRY_HEADER_SIZE || buf.toString('latin1', 0, 4) !== 'loge') {
    return false;
  }
  const entryLength = buf.readUInt32LE(8);
  if (entryLength < 4 * KiB || entryLength % (4 * KiB) !== 0 || entryLength > buf.length) {
    return false;
  }
  if (parseGuid(buf, 32) !== logGuid) {
    return false;
  }
  return buf.readUInt32LE(4) === crc32cWithZeroedField(buf.subarray(0, entryLength), 4);
}
