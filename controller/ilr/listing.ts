import type { NtfsFile } from '../ntfs/file-record.js';
import { FileAttribute } from '../ntfs/file-name.js';
import { describeReparsePoint } from '../ntfs/reparse-point.js';
import { splitPath, type NtfsVolume } from '../ntfs/volume.js';

export interface ListEntry {
  name: string;
  isDirectory: boolean;
  /** Size of the main data stream (0 for directories). */
  size: number;
  created: Date;
  modified: Date;
  /** Alternate data streams, by name and size. */
  streams: { name: string; size: number }[];
  encrypted: boolean;
  compressed: boolean;
  sparse: boolean;
  /** For links, junctions and other reparse points: what they are (their content is not read). */
  reparse: string | null;
}

export function describeFile(volume: NtfsVolume, name: string, file: NtfsFile): ListEntry {
  const streams = volume.streams(file);
  const attrs = file.info.fileAttributes;
  return {
    name,
    isDirectory: file.isDirectory,
    size: streams.find((s) => s.name === '')?.size ?? 0,
    created: file.info.created,
    modified: file.info.modified,
    streams: streams.filter((s) => s.name !== ''),
    encrypted: (attrs & FileAttribute.encrypted) !== 0,
    compressed: (attrs & FileAttribute.compressed) !== 0,
    sparse: (attrs & FileAttribute.sparse) !== 0,
    reparse: file.reparsePoint ? describeReparsePoint(file.reparsePoint) : null,
  };
}

/** A directory's entries (one per name, in NTFS order), or the single entry when `path` is a file. */
export async function listPath(volume: NtfsVolume, path: string): Promise<ListEntry[]> {
  const target = await volume.resolve(path);
  if (!target.isDirectory) {
    return [describeFile(volume, splitPath(path).at(-1) ?? '', target)];
  }
  const entries: ListEntry[] = [];
  for await (const entry of volume.listDirectory(target)) {
    entries.push(describeFile(volume, entry.name, await volume.readFile(entry.reference)));
  }
  return entries;
}
