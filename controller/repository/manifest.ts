/**
 * One manifest per disk per recovery point: everything needed to rebuild the disk, with chunks
 * listed by position. Manifests are written last in a backup, so one that exists is complete.
 */
import { randomBytes } from 'node:crypto';
import { RepositoryError } from './errors.js';

export const MANIFEST_VERSION = 1;

export interface DiskDescription {
  /** Stable name of the protected disk (e.g. `vm/disk0`): backups of the same name form a series. */
  name: string;
  virtualSize: number;
  logicalSectorSize: number;
  physicalSectorSize: number;
  sourceFormat: string;
  sourcePath: string;
}

export type ChangeDetection = 'full' | 'checksum' | 'changed-ranges';

export interface BackupStats {
  bytesRead: number;
  bytesChanged: number;
  bytesUploaded: number;
  newChunks: number;
  seconds: number;
}

export interface Manifest {
  version: number;
  id: string;
  createdAt: string;
  host: string;
  disk: DiskDescription;
  chunkSize: number;
  /** The manifest this backup was compared against, if any. */
  parent: string | null;
  changeDetection: ChangeDetection;
  stats: BackupStats;
  /** Facts from the caller about where the disk came from (VM, checkpoint, consistency). */
  source: Record<string, string>;
  /** One entry per `chunkSize` slice of the disk, in order: the chunk id (hex), or null for zeros. */
  chunks: (string | null)[];
}

/**
 * Ids sort by creation time (to the millisecond), so listings show recovery points in order
 * without reading them: `20261121T232920123Z-71cfb8f7`.
 */
export function newManifestId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:.]/g, '');
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

/** When the manifest with this id was made, from its stamp; undefined for an id of another form. */
export function manifestIdTime(id: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z-/.exec(id);
  if (!m) {
    return undefined;
  }
  const [year, month, day, hour, minute, second, ms] = m.slice(1).map(Number);
  return Date.UTC(year ?? 0, (month ?? 1) - 1, day, hour, minute, second, ms);
}

const CHUNK_ID = /^[0-9a-f]{64}$/;
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * Decodes a manifest and checks every field later code relies on, so a damaged or hostile manifest
 * is refused here with a RepositoryError naming the field, rather than failing somewhere deeper.
 */
export function parseManifest(data: Buffer, what: string): Manifest {
  const malformed = (why: string): never => {
    throw new RepositoryError(`${what} is malformed (${why})`);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString('utf8'));
  } catch {
    return malformed('not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return malformed('not a JSON object');
  }
  const m = parsed as Partial<Manifest>;
  if (typeof m.version !== 'number' || m.version > MANIFEST_VERSION) {
    throw new RepositoryError(
      `${what} has version ${String(m.version)}, newer than this Shadowkeep supports (${MANIFEST_VERSION})`,
    );
  }
  if (typeof m.id !== 'string' || typeof m.createdAt !== 'string') {
    return malformed('id or createdAt is not a string');
  }
  const disk = m.disk as Partial<DiskDescription> | null | undefined;
  if (
    typeof disk !== 'object' ||
    disk === null ||
    typeof disk.name !== 'string' ||
    !isCount(disk.virtualSize) ||
    !isCount(disk.logicalSectorSize) ||
    !isCount(disk.physicalSectorSize)
  ) {
    return malformed('disk name, size or sector sizes missing');
  }
  const { chunkSize } = m;
  if (!isCount(chunkSize) || chunkSize < 4096 || (chunkSize & (chunkSize - 1)) !== 0) {
    return malformed(`chunk size ${String(chunkSize)} is not a power of two of at least 4 KiB`);
  }
  if (!Array.isArray(m.chunks) || m.chunks.length !== Math.ceil(disk.virtualSize / chunkSize)) {
    return malformed('chunk list does not cover the disk');
  }
  if (!m.chunks.every((c) => c === null || (typeof c === 'string' && CHUNK_ID.test(c)))) {
    return malformed('a chunk entry is neither null nor a chunk id');
  }
  if (m.parent !== null && typeof m.parent !== 'string') {
    return malformed('parent is neither null nor a manifest id');
  }
  return m as Manifest;
}
