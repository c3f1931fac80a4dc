/**
 * What the fuzzer feeds and what it may get back. Each target names the parser entry point a user
 * reaches (opening a disk image, reading a partition table, browsing NTFS, decoding repository
 * objects), the regions of a real input where its structures live, how to repair checksums after
 * an edit, a bounded amount of work to do with what the parser returns, and the documented error
 * types bad input may raise. Anything else escaping is a finding.
 */
import { writeFile } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { sliceSource } from '../../../controller/common/byte-source.js';
import { crc32cWithZeroedField } from '../../../controller/disk/crc32c.js';
import { DiskFormatError, openVirtualDisk } from '../../../controller/disk/index.js';
import { vhdChecksum } from '../../../controller/disk/vhd.js';
import {
  HEADER_OFFSETS,
  HEADER_SIZE,
  REGION_TABLE_OFFSETS,
  REGION_TABLE_SIZE,
  decodeRegionTable,
} from '../../../controller/disk/vhdx-format.js';
import { VolumeSelectionError, openVolume } from '../../../controller/ilr/open-volume.js';
import { CorruptVolumeError, FileNotFoundError, UnsupportedError } from '../../../controller/ntfs/errors.js';
import type { NtfsFile } from '../../../controller/ntfs/file-record.js';
import { PartitionTableError, readPartitionTable } from '../../../controller/partitions/index.js';
import { decodeIndex } from '../../../controller/repository/chunk-index.js';
import { decodeChunk } from '../../../controller/repository/codec.js';
import { parseConfig } from '../../../controller/repository/config.js';
import { sealToBuffer, type RepositoryKeys } from '../../../controller/repository/crypto.js';
import { RepositoryError } from '../../../controller/repository/errors.js';
import { unwrapMasterKey } from '../../../controller/repository/keys.js';
import { parseManifest } from '../../../controller/repository/manifest.js';
import { readPackHeader } from '../../../controller/repository/pack.js';
import { bufferSource } from '../../support/ntfs-images.js';
import { mutateBytes, mutateJson, type Region } from './mutator.js';
import { Rng } from './rng.js';

export type TargetName =
  | 'vhdx'
  | 'vhd'
  | 'gpt'
  | 'mbr'
  | 'ntfs'
  | 'repository config'
  | 'repository manifest'
  | 'repository index'
  | 'repository pack'
  | 'repository pack header';

/** What a target needs besides its input: repository keys, the pack it belongs to. Plain data, for workers. */
export interface TargetContext {
  scratch: string;
  encryptionKey?: string;
  chunkIdKey?: string;
  keyMaterial?: string;
  packId?: string;
  /** The blob bytes of the pack whose header is fuzzed (hex). */
  packBlobs?: string;
}

type ErrorClass = abstract new (...args: never[]) => Error;

export interface Target {
  allowed: ErrorClass[];
  /** Where the structures are, in the real base input. */
  regions(base: Buffer): Region[];
  /** Repairs checksums after an edit, so the input reaches the parser behind them. */
  fixup?(data: Buffer): void;
  json?: boolean;
  run(input: Buffer, context: TargetContext): Promise<void>;
}

const whole = (base: Buffer): Region[] => [{ offset: 0, length: base.length }];

/** Non-zero sectors: on a disk that holds only partition tables, exactly the tables. */
function nonZeroSectors(base: Buffer, size = 512): Region[] {
  const regions: Region[] = [];
  for (let at = 0; at + size <= base.length; at += size) {
    if (base.subarray(at, at + size).some((b) => b !== 0)) {
      regions.push({ offset: at, length: size });
    }
  }
  return regions;
}

async function readDisk(input: Buffer, context: TargetContext, ext: string): Promise<void> {
  // The extension makes the reader trust the name: a damaged image must fail, never read as raw.
  const path = `${context.scratch}/input.${ext}`;
  await writeFile(path, input);
  const disk = await openVirtualDisk(path);
  try {
    for (const r of disk.allocatedRanges().slice(0, 16)) {
      await disk.read(r.offset, Math.min(r.length, 65536));
    }
    if (disk.size >= 512) {
      await disk.read(disk.size - 512, 512);
    }
  } finally {
    await disk.close();
  }
}

function fixVhdx(data: Buffer): void {
  for (const at of HEADER_OFFSETS) {
    if (data.length >= at + HEADER_SIZE) {
      data.writeUInt32LE(crc32cWithZeroedField(data.subarray(at, at + HEADER_SIZE), 4), at + 4);
    }
  }
  for (const at of REGION_TABLE_OFFSETS) {
    if (data.length >= at + REGION_TABLE_SIZE) {
      data.writeUInt32LE(crc32cWithZeroedField(data.subarray(at, at + REGION_TABLE_SIZE), 4), at + 4);
    }
  }
}

function vhdxRegions(base: Buffer): Region[] {
  const table = decodeRegionTable(
    base.subarray(REGION_TABLE_OFFSETS[0], REGION_TABLE_OFFSETS[0] + REGION_TABLE_SIZE),
  );
  const described =
    typeof table === 'string'
      ? []
      : table.map((e) => ({ offset: e.fileOffset, length: Math.min(e.length, 65536) }));
  return [
    { offset: 0, length: 1024 },
    ...HEADER_OFFSETS.map((offset) => ({ offset, length: 128 })),
    ...REGION_TABLE_OFFSETS.map((offset) => ({ offset, length: 16 + 32 * 4 })),
    ...described,
  ];
}

function fixVhd(data: Buffer): void {
  if (data.length < 1024) {
    return;
  }
  const footer = data.subarray(data.length - 512);
  footer.writeUInt32BE(vhdChecksum(footer, 64), 64);
  data.subarray(0, 512).set(footer);
  const dynamic = Number(footer.readBigUInt64BE(16));
  if (dynamic + 1024 <= data.length) {
    const header = data.subarray(dynamic, dynamic + 1024);
    header.writeUInt32BE(vhdChecksum(header, 36), 36);
  }
}

function fixGpt(data: Buffer): void {
  for (const at of [512, data.length - 512]) {
    if (at < 512 || data.toString('latin1', at, at + 8) !== 'EFI PART') {
      continue;
    }
    const header = data.subarray(at, at + 512);
    const entriesLba = Number(header.readBigUInt64LE(72));
    const count = header.readUInt32LE(80);
    const size = header.readUInt32LE(84);
    const entries = entriesLba * 512;
    if (count * size <= 64 * 1024 && entries + count * size <= data.length) {
      header.writeUInt32LE(crc32(data.subarray(entries, entries + count * size)), 88);
    }
    const headerSize = header.readUInt32LE(12);
    if (headerSize >= 92 && headerSize <= 512) {
      header.writeUInt32LE(0, 16);
      header.writeUInt32LE(crc32(header.subarray(0, headerSize)), 16);
    }
  }
}

/** The structures an NTFS volume keeps: boot sectors, MFT records (FILE) and index blocks (INDX). */
function ntfsRegions(base: Buffer): Region[] {
  const regions: Region[] = [];
  for (let at = 0; at + 512 <= base.length; at += 512) {
    const magic = base.toString('latin1', at, at + 4);
    if (magic === 'FILE') {
      regions.push({ offset: at, length: 1024 });
    } else if (magic === 'INDX') {
      regions.push({ offset: at, length: 4096 });
    } else if (
      base.toString('latin1', at + 3, at + 11) === 'NTFS    ' ||
      (at < 1024 * 1024 && base.readUInt16LE(at + 510) === 0xaa55)
    ) {
      regions.push({ offset: at, length: 512 });
    }
  }
  return regions;
}

/** Browses a volume the way `files ls`/`files get` do, within a fixed budget of files and bytes. */
async function browseNtfs(input: Buffer): Promise<void> {
  const { volume } = await openVolume(bufferSource(input));
  const queue: NtfsFile[] = [await volume.root()];
  let budget = 200;
  while (queue.length > 0 && budget > 0) {
    const dir = queue.shift()!;
    for await (const entry of volume.listDirectory(dir)) {
      if (--budget <= 0) {
        break;
      }
      const file = await volume.readFile(entry.reference);
      if (file.isDirectory) {
        queue.push(file);
        continue;
      }
      for (const stream of volume.streams(file)) {
        const data = volume.openStream(file, stream.name);
        await data.read(0, Math.min(data.size, 8192));
      }
    }
  }
  await volume.resolve('/docs/readme.txt');
}

function keysOf(context: TargetContext): RepositoryKeys {
  return {
    encryption: Buffer.from(context.encryptionKey ?? '', 'hex'),
    chunkId: Buffer.from(context.chunkIdKey ?? '', 'hex'),
  };
}

/** What `repo check --read-data` does with a pack: read its header, then open every blob it lists. */
async function checkPack(keys: RepositoryKeys, packId: string, pack: Buffer): Promise<void> {
  const entries = await readPackHeader(keys, packId, pack.length, (o, l) =>
    Promise.resolve(pack.subarray(o, o + l)),
  );
  for (const e of entries) {
    decodeChunk(keys, Buffer.from(e.id, 'hex'), pack.subarray(e.offset, e.offset + e.length));
  }
}

/** A synchronous parser as a target: what it throws becomes the rejection. */
function synchronous(parse: (input: Buffer) => unknown): Target['run'] {
  return (input) =>
    new Promise<void>((resolve) => {
      parse(input);
      resolve();
    });
}

export const TARGETS: Record<TargetName, Target> = {
  vhdx: {
    allowed: [DiskFormatError],
    regions: vhdxRegions,
    fixup: fixVhdx,
    run: (input, c) => readDisk(input, c, 'vhdx'),
  },
  vhd: {
    allowed: [DiskFormatError],
    regions: (base) => [
      ...nonZeroSectors(base.subarray(0, 64 * 1024)),
      { offset: base.length - 512, length: 512 },
    ],
    fixup: fixVhd,
    run: (input, c) => readDisk(input, c, 'vhd'),
  },
  gpt: {
    allowed: [PartitionTableError],
    regions: (base) => nonZeroSectors(base),
    fixup: fixGpt,
    run: async (input) => {
      const source = bufferSource(input);
      for (const p of (await readPartitionTable(source))?.partitions ?? []) {
        await sliceSource(source, p.start, p.size).read(0, Math.min(p.size, 512));
      }
    },
  },
  mbr: {
    allowed: [PartitionTableError],
    regions: (base) => nonZeroSectors(base),
    run: async (input) => {
      const source = bufferSource(input);
      for (const p of (await readPartitionTable(source))?.partitions ?? []) {
        await sliceSource(source, p.start, p.size).read(0, Math.min(p.size, 512));
      }
    },
  },
  ntfs: {
    allowed: [
      CorruptVolumeError,
      UnsupportedError,
      FileNotFoundError,
      VolumeSelectionError,
      PartitionTableError,
    ],
    regions: ntfsRegions,
    run: browseNtfs,
  },
  'repository config': {
    allowed: [RepositoryError],
    regions: whole,
    json: true,
    run: async (input, c) => {
      const config = parseConfig(input.toString('utf8'), 'file:///fuzz');
      await unwrapMasterKey(config.keys, Buffer.from(c.keyMaterial ?? '', 'hex'), config.id);
    },
  },
  'repository manifest': {
    allowed: [RepositoryError],
    regions: whole,
    json: true,
    run: synchronous((input) => parseManifest(input, 'manifest fuzz')),
  },
  'repository index': {
    allowed: [RepositoryError],
    regions: whole,
    run: synchronous((input) => decodeIndex(input, 'index fuzz')),
  },
  'repository pack': {
    allowed: [RepositoryError],
    regions: (base) => [
      { offset: Math.max(0, base.length - 4096), length: Math.min(4096, base.length) },
      ...whole(base),
    ],
    run: (input, c) => checkPack(keysOf(c), c.packId ?? '', input),
  },
  'repository pack header': {
    // The header's plaintext, sealed again with the repository key: what a writer bug would produce.
    allowed: [RepositoryError],
    regions: whole,
    run: (input, c) => {
      const keys = keysOf(c);
      const packId = c.packId ?? '';
      const sealed = sealToBuffer(keys.encryption, [input], Buffer.from(`pack header ${packId}`));
      const trailer = Buffer.alloc(8);
      trailer.writeUInt32LE(sealed.length, 0);
      trailer.write('SKP1', 4, 'latin1');
      return checkPack(keys, packId, Buffer.concat([Buffer.from(c.packBlobs ?? '', 'hex'), sealed, trailer]));
    },
  },
};

/** The input a seed stands for: JSON-aware edits for JSON targets half the time, checksums repaired four times in five. */
export function mutateFor(target: Target, base: Buffer, regions: readonly Region[], seed: number): Buffer {
  const rng = new Rng(seed ^ 0x5bd1e995);
  const data = target.json && rng.below(2) === 0 ? mutateJson(base, seed) : mutateBytes(base, regions, seed);
  if (target.fixup && rng.below(5) > 0) {
    target.fixup(data);
  }
  return data;
}
