import { CorruptVolumeError } from '../ntfs/errors.js';
import type { NtfsFile } from '../ntfs/file-record.js';
import { AttributeType, type Attribute } from '../ntfs/mft-record.js';
import type { Run } from '../ntfs/runlist.js';
import type { NtfsVolume } from '../ntfs/volume.js';

/** Bumped when the stored form changes; readers refuse newer catalogs rather than misread them. */
export const CATALOG_VERSION = 1;
const ROOT_RECORD = 5;
/** Records below this number are NTFS metadata ($MFT, $Extend, ...), not the user's files. */
const FIRST_USER_RECORD = 16;

/** Inclusive range of chunk numbers (disk offset / chunk size) that hold part of a file. */
export type ChunkSpan = [first: number, last: number];

export interface CatalogEntry {
  /** Absolute path inside the volume, `/` separated; a hard-linked file has one entry per name. */
  path: string;
  isDirectory: boolean;
  size: number;
  /** Last modification, milliseconds since the Unix epoch. */
  modified: number;
  /** The chunks of the disk holding the file's data, or its MFT record when the data is resident. */
  chunks: ChunkSpan[];
}

export interface Catalog {
  version: number;
  /** Partition number (1-based) of the volume, or null for a disk that is one volume. */
  partition: number | null;
  chunkSize: number;
  entries: CatalogEntry[];
  /** MFT records that could not be read (damage); the rest of the catalog is still usable. */
  unreadableRecords: number;
}

export interface CatalogLayout {
  partition: number | null;
  /** Byte offset of the volume on the disk, to turn cluster numbers into chunk numbers. */
  volumeOffset: number;
  chunkSize: number;
}

/** Merges byte ranges on the disk into sorted, non-overlapping chunk spans. */
export function chunkSpans(ranges: { offset: number; length: number }[], chunkSize: number): ChunkSpan[] {
  const spans = ranges
    .filter((r) => r.length > 0)
    .map((r): ChunkSpan => [
      Math.floor(r.offset / chunkSize),
      Math.floor((r.offset + r.length - 1) / chunkSize),
    ])
    .sort((a, b) => a[0] - b[0]);
  const merged: ChunkSpan[] = [];
  for (const span of spans) {
    const last = merged.at(-1);
    if (last && span[0] <= last[1] + 1) {
      last[1] = Math.max(last[1], span[1]);
    } else {
      merged.push([...span]);
    }
  }
  return merged;
}

/** Volume byte ranges of the clusters a stretch [vcn, vcn + count) of an attribute occupies. */
function storedRanges(
  runs: readonly Run[],
  clusterSize: number,
  vcn = 0,
  count = Infinity,
): { offset: number; length: number }[] {
  return runs.flatMap((run) => {
    const from = Math.max(run.vcn, vcn);
    const to = Math.min(run.vcn + run.length, vcn + count);
    return run.lcn === null || from >= to
      ? []
      : [{ offset: (run.lcn + from - run.vcn) * clusterSize, length: (to - from) * clusterSize }];
  });
}

const mainData = (file: NtfsFile): Attribute | undefined =>
  file.attributes.find((a) => a.type === AttributeType.data && a.name === '');

/**
 * Builds the catalog of a volume by scanning the MFT once, in record order (sequential reads), then
 * joining names to their parent directories. Nothing else on the volume is read.
 */
export async function buildCatalog(volume: NtfsVolume, layout: CatalogLayout): Promise<Catalog> {
  const { clusterSize, mftRecordSize } = volume.geometry;
  const mft = mainData(await volume.readFile(0));
  const mftRuns = mft && !mft.resident ? mft.runs : [];
  const toDisk = (r: { offset: number; length: number }) => ({
    offset: r.offset + layout.volumeOffset,
    length: r.length,
  });

  const files = new Map<number, NtfsFile>();
  let unreadableRecords = 0;
  for (let n = FIRST_USER_RECORD; n < volume.recordCount; n++) {
    try {
      const file = await volume.readFileIfBase(n);
      if (file) {
        files.set(n, file);
      }
    } catch (err) {
      if (!(err instanceof CorruptVolumeError)) {
        throw err;
      }
      unreadableRecords += 1;
    }
  }

  // Directory paths, memoised; a parent chain that loops or leaves the tree yields null.
  const dirPaths = new Map<number, string | null>([[ROOT_RECORD, '']]);
  const dirPath = (record: number, depth = 0): string | null => {
    const known = dirPaths.get(record);
    if (known !== undefined) {
      return known;
    }
    const dir = files.get(record);
    const name = dir?.isDirectory ? dir.names[0] : undefined;
    const parent =
      name && depth < 1024 && name.parent.record !== record ? dirPath(name.parent.record, depth + 1) : null;
    const path = name && parent !== null ? `${parent}/${name.name}` : null;
    dirPaths.set(record, path);
    return path;
  };

  const entries: CatalogEntry[] = [];
  for (const [n, file] of files) {
    const data = mainData(file);
    const ranges =
      data?.resident === false
        ? storedRanges(data.runs, clusterSize)
        : storedRanges(mftRuns, clusterSize, Math.floor((n * mftRecordSize) / clusterSize), 1);
    const chunks = file.isDirectory ? [] : chunkSpans(ranges.map(toDisk), layout.chunkSize);
    const size = data ? (data.resident ? data.value.length : data.dataSize) : 0;
    for (const name of file.names) {
      const parent = dirPath(name.parent.record);
      if (parent !== null) {
        entries.push({
          path: `${parent}/${name.name}`,
          isDirectory: file.isDirectory,
          size,
          modified: file.info.modified.getTime(),
          chunks,
        });
      }
    }
  }
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return {
    version: CATALOG_VERSION,
    partition: layout.partition,
    chunkSize: layout.chunkSize,
    entries,
    unreadableRecords,
  };
}
