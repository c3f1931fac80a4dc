/**
 * Read-only VHDX reader (MS-VHDX): validates headers, region tables and metadata, maps virtual
 * offsets through the BAT, and follows differencing disks to their parents. The file is never
 * opened for writing: opening a VHDX read-write would rewrite its headers.
 */
import { access, open } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { DiskFormatError } from './errors.js';
import { ImageFile } from './file-reader.js';
import { mergeRanges, type ByteRange } from './ranges.js';
import { assertInside, type VirtualDisk, readThroughInto } from './virtual-disk.js';
import {
  BlockState,
  FILE_SIGNATURE,
  Guids,
  HEADER_OFFSETS,
  HEADER_SIZE,
  KiB,
  LOG_ENTRY_HEADER_SIZE,
  METADATA_TABLE_SIZE,
  MiB,
  REGION_TABLE_OFFSETS,
  REGION_TABLE_SIZE,
  ZERO_GUID,
  batEntryCount,
  bitmapEntryIndex,
  chunkRatio,
  decodeBatEntry,
  decodeHeader,
  decodeMetadataTable,
  decodeParentLocator,
  decodeRegionTable,
  isValidLogEntry,
  payloadEntryIndex,
  type MetadataEntry,
  type RegionEntry,
  type VhdxHeader,
} from './vhdx-format.js';

/** Opens the parent of a differencing disk; supplied by the caller so it can detect loops. */
export type ParentOpener = (path: string) => Promise<VirtualDisk>;

interface Geometry {
  virtualSize: number;
  blockSize: number;
  logicalSectorSize: number;
  physicalSectorSize: number;
  hasParent: boolean;
  parentLocator: Map<string, string> | undefined;
}

export class VhdxDisk implements VirtualDisk {
  readonly format = 'vhdx';
  private readonly bitmaps = new Map<number, Buffer>();

  private constructor(
    private readonly file: ImageFile,
    readonly header: VhdxHeader,
    private readonly geometry: Geometry,
    /** Per payload block: BAT state and file offset. */
    private readonly states: Uint8Array,
    private readonly offsets: Float64Array,
    /** Per sector-bitmap chunk (differencing disks only): file offset of the bitmap block, or -1. */
    private readonly bitmapOffsets: Float64Array,
    private readonly parent: VirtualDisk | undefined,
  ) {}

  get path(): string {
    return this.file.path;
  }
  get size(): number {
    return this.geometry.virtualSize;
  }
  get blockSize(): number {
    return this.geometry.blockSize;
  }
  get logicalSectorSize(): number {
    return this.geometry.logicalSectorSize;
  }
  get physicalSectorSize(): number {
    return this.geometry.physicalSectorSize;
  }

  static async open(path: string, openParent: ParentOpener): Promise<VhdxDisk> {
    const handle = await open(path, 'r');
    try {
      const file = new ImageFile(path, handle, (await handle.stat()).size);
      return await VhdxDisk.parse(file, openParent);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  private static async parse(file: ImageFile, openParent: ParentOpener): Promise<VhdxDisk> {
    const fail = (problem: string): never => {
      throw new DiskFormatError(file.path, problem);
    };
    if (file.size < MiB) {
      fail(`file is ${file.size} bytes, smaller than the 1 MiB VHDX header section (truncated?)`);
    }
    if ((await file.readExact(0, 8, 'file identifier')).toString('latin1') !== FILE_SIGNATURE) {
      fail(`not a VHDX file: missing '${FILE_SIGNATURE}' signature`);
    }
    const header = await readCurrentHeader(file, fail);
    if (header.version !== 1) {
      fail(`unsupported VHDX version ${header.version} (only 1 is defined)`);
    }
    await refuseDirtyLog(file, header, fail);
    const regions = await readRegionTable(file, fail);
    const region = (guid: string, name: string): RegionEntry => {
      const r = regions.find((e) => e.guid === guid);
      if (!r) {
        return fail(`region table has no ${name} region`);
      }
      if (r.fileOffset < MiB || r.fileOffset + r.length > file.size) {
        return fail(`${name} region (${r.fileOffset}+${r.length}) lies outside the file (truncated?)`);
      }
      return r;
    };
    const batRegion = region(Guids.batRegion, 'BAT');
    const metadataRegion = region(Guids.metadataRegion, 'metadata');
    const geometry = await readGeometry(file, metadataRegion, fail);

    const entryCount = batEntryCount(
      geometry.virtualSize,
      geometry.blockSize,
      geometry.logicalSectorSize,
      geometry.hasParent,
    );
    if (entryCount * 8 > batRegion.length) {
      fail(`BAT region holds ${Math.floor(batRegion.length / 8)} entries, the disk needs ${entryCount}`);
    }
    const bat = await file.readExact(batRegion.fileOffset, entryCount * 8, 'BAT');
    const ratio = chunkRatio(geometry.blockSize, geometry.logicalSectorSize);
    const blocks = Math.ceil(geometry.virtualSize / geometry.blockSize);
    const states = new Uint8Array(blocks);
    const offsets = new Float64Array(blocks);
    for (let b = 0; b < blocks; b++) {
      const { state, fileOffset } = decodeBatEntry(bat.readBigUInt64LE(payloadEntryIndex(b, ratio) * 8));
      const present = state === BlockState.fullyPresent || state === BlockState.partiallyPresent;
      if (state === BlockState.partiallyPresent && !geometry.hasParent) {
        fail(`BAT entry for block ${b} is PARTIALLY_PRESENT in a disk without a parent`);
      }
      if (present) {
        const needed = Math.min(geometry.blockSize, geometry.virtualSize - b * geometry.blockSize);
        if (fileOffset < MiB || fileOffset + needed > file.size) {
          fail(
            `BAT entry for block ${b} points to ${fileOffset}, outside the ${file.size}-byte file (truncated or corrupt)`,
          );
        }
      } else if (
        ![
          BlockState.notPresent,
          BlockState.undefined,
          BlockState.zero,
          BlockState.unmapped,
          BlockState.unmappedDraft,
        ].includes(state as 0)
      ) {
        fail(`BAT entry for block ${b} has unknown state ${state}`);
      }
      states[b] = state;
      offsets[b] = fileOffset;
    }
    const bitmapOffsets = new Float64Array(geometry.hasParent ? Math.ceil(blocks / ratio) : 0).fill(-1);
    for (let c = 0; c < bitmapOffsets.length; c++) {
      const { state, fileOffset } = decodeBatEntry(bat.readBigUInt64LE(bitmapEntryIndex(c, ratio) * 8));
      if (state === BlockState.fullyPresent) {
        if (fileOffset < MiB || fileOffset + MiB > file.size) {
          fail(`sector bitmap entry ${c} points to ${fileOffset}, outside the file`);
        }
        bitmapOffsets[c] = fileOffset;
      }
    }
    const parent = geometry.parentLocator ? await openParentOf(file.path, geometry, openParent) : undefined;
    return new VhdxDisk(file, header, geometry, states, offsets, bitmapOffsets, parent);
  }

  allocatedRanges(): readonly ByteRange[] {
    const own: ByteRange[] = [];
    const bs = this.geometry.blockSize;
    this.states.forEach((state, b) => {
      if (state === BlockState.fullyPresent || state === BlockState.partiallyPresent) {
        own.push({ offset: b * bs, length: Math.min(bs, this.size - b * bs) });
      }
    });
    // A differencing disk shows its parent wherever its own blocks are absent; a superset is fine.
    return mergeRanges([...own, ...(this.parent?.allocatedRanges() ?? [])]);
  }

  read(offset: number, length: number): Promise<Buffer> {
    return readThroughInto(this, offset, length);
  }

  async readInto(offset: number, target: Uint8Array): Promise<void> {
    assertInside(this.size, offset, target.length);
    const bs = this.geometry.blockSize;
    let done = 0;
    while (done < target.length) {
      const v = offset + done;
      const b = Math.floor(v / bs);
      const within = v - b * bs;
      const piece = target.subarray(done, done + Math.min(bs - within, target.length - done));
      const state = this.states[b];
      if (state === BlockState.fullyPresent) {
        await this.file.readExactInto(piece, (this.offsets[b] ?? 0) + within, `payload block ${b}`);
      } else if (state === BlockState.partiallyPresent) {
        await this.readPartial(b, within, piece);
      } else if (state === BlockState.notPresent && this.parent) {
        await this.parent.readInto(v, piece);
      } else {
        piece.fill(0);
      }
      done += piece.length;
    }
  }

  /** A PARTIALLY_PRESENT block: the sector bitmap picks, sector by sector, this file (1) or the parent (0). */
  private async readPartial(block: number, within: number, piece: Uint8Array): Promise<void> {
    const bitmap = await this.blockBitmap(block);
    const ss = this.geometry.logicalSectorSize;
    const base = block * this.geometry.blockSize;
    let pos = 0;
    while (pos < piece.length) {
      const sector = Math.floor((within + pos) / ss);
      const bit = ((bitmap[sector >>> 3] ?? 0) >>> (sector & 7)) & 1;
      let runEnd = (sector + 1) * ss - within;
      for (
        let s = sector + 1;
        runEnd < piece.length && (((bitmap[s >>> 3] ?? 0) >>> (s & 7)) & 1) === bit;
        s++
      ) {
        runEnd += ss;
      }
      const part = piece.subarray(pos, Math.min(runEnd, piece.length));
      if (bit === 1) {
        await this.file.readExactInto(
          part,
          (this.offsets[block] ?? 0) + within + pos,
          `payload block ${block}`,
        );
      } else if (this.parent) {
        await this.parent.readInto(base + within + pos, part);
      }
      pos += part.length;
    }
  }

  private async blockBitmap(block: number): Promise<Buffer> {
    const cached = this.bitmaps.get(block);
    if (cached) {
      return cached;
    }
    const ratio = chunkRatio(this.geometry.blockSize, this.geometry.logicalSectorSize);
    const chunk = Math.floor(block / ratio);
    const bitmapOffset = this.bitmapOffsets[chunk] ?? -1;
    if (bitmapOffset < 0) {
      throw new DiskFormatError(
        this.path,
        `block ${block} is PARTIALLY_PRESENT but its sector bitmap block is absent`,
      );
    }
    const bytesPerBlock = this.geometry.blockSize / this.geometry.logicalSectorSize / 8;
    const bitmap = await this.file.readExact(
      bitmapOffset + (block % ratio) * bytesPerBlock,
      bytesPerBlock,
      `sector bitmap of block ${block}`,
    );
    this.bitmaps.set(block, bitmap);
    return bitmap;
  }

  async close(): Promise<void> {
    await this.parent?.close();
    await this.file.close();
  }
}

async function readCurrentHeader(file: ImageFile, fail: (p: string) => never): Promise<VhdxHeader> {
  const problems: string[] = [];
  let best: VhdxHeader | undefined;
  for (const offset of HEADER_OFFSETS) {
    const decoded = decodeHeader(await file.readExact(offset, HEADER_SIZE, 'header'));
    if (typeof decoded === 'string') {
      problems.push(`header at ${offset / KiB} KiB: ${decoded}`);
    } else if (!best || decoded.sequenceNumber > best.sequenceNumber) {
      best = decoded;
    }
  }
  return best ?? fail(`no valid header (${problems.join('; ')})`);
}

/**
 * MS-VHDX requires replaying a non-empty log before any other access; a read-only reader cannot,
 * so it refuses rather than return data the BAT or metadata may not yet describe.
 */
async function refuseDirtyLog(
  file: ImageFile,
  header: VhdxHeader,
  fail: (p: string) => never,
): Promise<void> {
  if (header.logGuid === ZERO_GUID) {
    return;
  }
  if (header.logVersion !== 0) {
    fail(`unsupported log version ${header.logVersion}`);
  }
  if (header.logOffset < MiB || header.logOffset + header.logLength > file.size) {
    fail(`log (${header.logOffset}+${header.logLength}) lies outside the file (truncated?)`);
  }
  const log = await file.readExact(header.logOffset, header.logLength, 'log');
  for (let at = 0; at + LOG_ENTRY_HEADER_SIZE <= log.length; at += 4 * KiB) {
    if (isValidLogEntry(log.subarray(at), header.logGuid)) {
      fail(
        'the log holds updates that must be replayed before the disk can be read (the host probably stopped without closing it); ' +
          'attach and detach it once in Hyper-V, or run `qemu-img check -r all` on a copy',
      );
    }
  }
}

async function readRegionTable(file: ImageFile, fail: (p: string) => never): Promise<RegionEntry[]> {
  const problems: string[] = [];
  for (const offset of REGION_TABLE_OFFSETS) {
    const decoded = decodeRegionTable(await file.readExact(offset, REGION_TABLE_SIZE, 'region table'));
    if (typeof decoded === 'string') {
      problems.push(`region table at ${offset / KiB} KiB: ${decoded}`);
      continue;
    }
    const unknown = decoded.find(
      (e) => e.required && e.guid !== Guids.batRegion && e.guid !== Guids.metadataRegion,
    );
    if (unknown) {
      fail(`region table requires unknown region ${unknown.guid}`);
    }
    return decoded;
  }
  return fail(`no valid region table (${problems.join('; ')})`);
}

const knownMetadata = new Set<string>([
  Guids.fileParameters,
  Guids.virtualDiskSize,
  Guids.page83Data,
  Guids.logicalSectorSize,
  Guids.physicalSectorSize,
  Guids.parentLocator,
]);

async function readGeometry(
  file: ImageFile,
  region: RegionEntry,
  fail: (p: string) => never,
): Promise<Geometry> {
  if (region.length < METADATA_TABLE_SIZE) {
    fail(`metadata region is ${region.length} bytes, smaller than its 64 KiB table`);
  }
  const table = decodeMetadataTable(
    await file.readExact(region.fileOffset, METADATA_TABLE_SIZE, 'metadata table'),
  );
  if (typeof table === 'string') {
    return fail(`metadata table: ${table}`);
  }
  const unknown = table.find((e) => e.isRequired && !knownMetadata.has(e.itemId));
  if (unknown) {
    fail(`metadata requires unknown item ${unknown.itemId}`);
  }
  const item = async (guid: string, name: string, minLength: number): Promise<Buffer | undefined> => {
    const e: MetadataEntry | undefined = table.find((x) => x.itemId === guid);
    if (!e) {
      return undefined;
    }
    if (e.length < minLength || e.offset < METADATA_TABLE_SIZE || e.offset + e.length > region.length) {
      return fail(
        `metadata item ${name} (${e.offset}+${e.length}) is malformed or outside the metadata region`,
      );
    }
    return file.readExact(region.fileOffset + e.offset, e.length, `metadata item ${name}`);
  };
  const required = async (guid: string, name: string, minLength: number): Promise<Buffer> =>
    (await item(guid, name, minLength)) ?? fail(`metadata lacks the required ${name} item`);

  const params = await required(Guids.fileParameters, 'file parameters', 8);
  const blockSize = params.readUInt32LE(0);
  const hasParent = (params.readUInt32LE(4) & 2) !== 0;
  const virtualSize = Number(
    (await required(Guids.virtualDiskSize, 'virtual disk size', 8)).readBigUInt64LE(0),
  );
  const logicalSectorSize = (await required(Guids.logicalSectorSize, 'logical sector size', 4)).readUInt32LE(
    0,
  );
  const physicalSectorSize = (
    await required(Guids.physicalSectorSize, 'physical sector size', 4)
  ).readUInt32LE(0);

  if (blockSize < MiB || blockSize > 256 * MiB || (blockSize & (blockSize - 1)) !== 0) {
    fail(`block size ${blockSize} is not a power of two between 1 MiB and 256 MiB`);
  }
  if (logicalSectorSize !== 512 && logicalSectorSize !== 4096) {
    fail(`logical sector size ${logicalSectorSize} is neither 512 nor 4096`);
  }
  if (physicalSectorSize !== 512 && physicalSectorSize !== 4096) {
    fail(`physical sector size ${physicalSectorSize} is neither 512 nor 4096`);
  }
  if (virtualSize <= 0 || virtualSize > 64 * 2 ** 40 || virtualSize % logicalSectorSize !== 0) {
    fail(
      `virtual size ${virtualSize} is not a positive multiple of the ${logicalSectorSize}-byte sector up to 64 TiB`,
    );
  }
  let parentLocator: Map<string, string> | undefined;
  if (hasParent) {
    const decoded = decodeParentLocator(await required(Guids.parentLocator, 'parent locator', 20));
    if (typeof decoded === 'string') {
      return fail(decoded);
    }
    if (decoded.type !== Guids.vhdxParentLocatorType) {
      fail(`parent locator type ${decoded.type} is not the VHDX locator`);
    }
    parentLocator = decoded.entries;
  }
  return { virtualSize, blockSize, logicalSectorSize, physicalSectorSize, hasParent, parentLocator };
}

/** Tries the locator's paths in the specification's order, on this machine's path syntax. */
async function openParentOf(
  childPath: string,
  geometry: Geometry,
  openParent: ParentOpener,
): Promise<VirtualDisk> {
  const locator = geometry.parentLocator ?? new Map<string, string>();
  const linkage = locator.get('parent_linkage');
  if (!linkage) {
    throw new DiskFormatError(childPath, 'differencing disk has no parent_linkage in its parent locator');
  }
  const tried: string[] = [];
  for (const key of ['relative_path', 'volume_path', 'absolute_win32_path']) {
    const value = locator.get(key);
    if (!value) {
      continue;
    }
    const local = value.replace(/\\/g, '/');
    const candidate = isAbsolute(local) ? local : resolve(dirname(childPath), local);
    tried.push(candidate);
    const exists = await access(candidate).then(
      () => true,
      () => false,
    );
    if (!exists) {
      continue;
    }
    const parent = await openParent(candidate);
    const guid = (s: string | undefined): string => (s ?? '').replace(/[{}]/g, '').toLowerCase();
    const accepted = [guid(linkage), guid(locator.get('parent_linkage2'))];
    const parentGuid = parent instanceof VhdxDisk ? parent.header.dataWriteGuid : undefined;
    if (parentGuid === undefined || !accepted.includes(parentGuid)) {
      await parent.close();
      throw new DiskFormatError(
        childPath,
        `parent ${candidate} does not match: its DataWriteGuid ${parentGuid ?? '(not a VHDX)'} differs from parent_linkage ${linkage} (was the parent modified?)`,
      );
    }
    if (parent.logicalSectorSize !== geometry.logicalSectorSize || parent.size !== geometry.virtualSize) {
      await parent.close();
      throw new DiskFormatError(childPath, `parent ${candidate} has a different sector size or virtual size`);
    }
    return parent;
  }
  throw new DiskFormatError(
    childPath,
    `parent disk not found (tried ${tried.length > 0 ? tried.join(', ') : 'no usable locator paths'})`,
  );
}
