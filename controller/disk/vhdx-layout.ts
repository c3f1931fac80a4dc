/**
 * Lays out a new VHDX file: header section, log, metadata, BAT, then payload blocks in order.
 * Pure: returns the bytes of the first part of the file and where each block goes. Used by our
 * dynamic VHDX writer (restores) and by test fixtures for what qemu cannot make (differencing
 * disks, 4 KiB sectors, partially present blocks).
 */
import { randomUUID } from 'node:crypto';
import {
  BlockState,
  FILE_SIGNATURE,
  Guids,
  HEADER_OFFSETS,
  MiB,
  REGION_TABLE_OFFSETS,
  ZERO_GUID,
  batEntryCount,
  bitmapEntryIndex,
  chunkRatio,
  encodeBatEntry,
  encodeGuid,
  encodeHeader,
  encodeMetadataRegion,
  encodeParentLocator,
  encodeRegionTable,
  payloadEntryIndex,
} from './vhdx-format.js';

export interface VhdxGeometry {
  virtualSize: number;
  blockSize: number;
  logicalSectorSize: 512 | 4096;
  physicalSectorSize: 512 | 4096;
}

export type LayoutBlockState = 'notPresent' | 'zero' | 'full' | 'partial';

export interface VhdxLayoutInput extends VhdxGeometry {
  /** State of each payload block; 'full' and 'partial' blocks get space in the file. */
  blocks: readonly LayoutBlockState[];
  /** For differencing disks: the parent locator's key/value pairs (parent_linkage, relative_path, ...). */
  parentLocator?: ReadonlyMap<string, string>;
  dataWriteGuid?: string;
}

export interface VhdxLayout {
  /** Bytes 0 .. dataStart: header section, log, metadata and BAT. */
  prefix: Buffer;
  /** File offset of each payload block's data (-1 where none). */
  blockOffsets: number[];
  /** File offset of each sector bitmap block (differencing disks with partial blocks), -1 where none. */
  bitmapOffsets: number[];
  fileSize: number;
  dataWriteGuid: string;
}

const LOG_OFFSET = MiB;
const LOG_LENGTH = MiB;
const METADATA_OFFSET = 2 * MiB;
const METADATA_LENGTH = MiB;
const BAT_OFFSET = 3 * MiB;

function roundUpMiB(n: number): number {
  return Math.ceil(n / MiB) * MiB;
}

export function layoutVhdx(input: VhdxLayoutInput): VhdxLayout {
  const { virtualSize, blockSize, logicalSectorSize, physicalSectorSize, blocks, parentLocator } = input;
  const hasParent = parentLocator !== undefined;
  const blockCount = Math.ceil(virtualSize / blockSize);
  if (blocks.length !== blockCount) {
    throw new RangeError(`layout needs ${blockCount} block states, got ${blocks.length}`);
  }
  const ratio = chunkRatio(blockSize, logicalSectorSize);
  const entries = batEntryCount(virtualSize, blockSize, logicalSectorSize, hasParent);
  const batLength = roundUpMiB(entries * 8);
  const dataStart = BAT_OFFSET + batLength;
  const prefix = Buffer.alloc(dataStart);

  prefix.write(FILE_SIGNATURE, 0, 'latin1');
  prefix.write('Shadowkeep', 8, 'utf16le');
  const dataWriteGuid = input.dataWriteGuid ?? randomUUID();
  HEADER_OFFSETS.forEach((offset, i) => {
    encodeHeader({
      sequenceNumber: BigInt(i),
      fileWriteGuid: randomUUID(),
      dataWriteGuid,
      logGuid: ZERO_GUID,
      logVersion: 0,
      version: 1,
      logLength: LOG_LENGTH,
      logOffset: LOG_OFFSET,
    }).copy(prefix, offset);
  });
  const regions = encodeRegionTable([
    { guid: Guids.batRegion, fileOffset: BAT_OFFSET, length: batLength, required: true },
    { guid: Guids.metadataRegion, fileOffset: METADATA_OFFSET, length: METADATA_LENGTH, required: true },
  ]);
  for (const offset of REGION_TABLE_OFFSETS) {
    regions.copy(prefix, offset);
  }

  const u32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  const fileParameters = Buffer.alloc(8);
  fileParameters.writeUInt32LE(blockSize, 0);
  fileParameters.writeUInt32LE(hasParent ? 2 : 0, 4);
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(virtualSize));
  const page83 = Buffer.alloc(16);
  encodeGuid(randomUUID(), page83, 0);
  const items = [
    { itemId: Guids.fileParameters, value: fileParameters, isVirtualDisk: false },
    { itemId: Guids.virtualDiskSize, value: size, isVirtualDisk: true },
    { itemId: Guids.page83Data, value: page83, isVirtualDisk: true },
    { itemId: Guids.logicalSectorSize, value: u32(logicalSectorSize), isVirtualDisk: true },
    { itemId: Guids.physicalSectorSize, value: u32(physicalSectorSize), isVirtualDisk: true },
    ...(parentLocator
      ? [{ itemId: Guids.parentLocator, value: encodeParentLocator(parentLocator), isVirtualDisk: false }]
      : []),
  ];
  encodeMetadataRegion(items, METADATA_LENGTH).copy(prefix, METADATA_OFFSET);

  const stateCode = {
    notPresent: BlockState.notPresent,
    zero: BlockState.zero,
    full: BlockState.fullyPresent,
    partial: BlockState.partiallyPresent,
  };
  let next = dataStart;
  const blockOffsets = blocks.map((state, b) => {
    const stored = state === 'full' || state === 'partial';
    const offset = stored ? next : -1;
    if (stored) {
      next += roundUpMiB(blockSize);
    }
    prefix.writeBigUInt64LE(
      encodeBatEntry(stateCode[state], Math.max(offset, 0)),
      BAT_OFFSET + payloadEntryIndex(b, ratio) * 8,
    );
    return offset;
  });
  const bitmapOffsets = Array.from({ length: hasParent ? Math.ceil(blockCount / ratio) : 0 }, (_, c) => {
    if (!blocks.slice(c * ratio, (c + 1) * ratio).includes('partial')) {
      return -1;
    }
    const offset = next;
    next += MiB;
    prefix.writeBigUInt64LE(
      encodeBatEntry(BlockState.fullyPresent, offset),
      BAT_OFFSET + bitmapEntryIndex(c, ratio) * 8,
    );
    return offset;
  });
  return { prefix, blockOffsets, bitmapOffsets, fileSize: next, dataWriteGuid };
}
