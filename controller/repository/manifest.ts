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

export function parseManifest(data: Buffer, what: string): Manifest {
  const m = JSON.parse(data.toString('utf8')) as Partial<Manifest>;
  if (typeof m.version !== 'number' || m.version > MANIFEST_VERSION) {
    throw new RepositoryError(
      `${what} has version ${String(m.version)}, newer than this Shadowkeep supports (${MANIFEST_VERSION})`,
    );
  }
  if (
    !m.disk ||
    !Array.isArray(m.chunks) ||
    typeof m.chunkSize !== 'number' ||
    m.chunks.length !== Math.ceil(m.disk.virtualSize / m.chunkSize)
  ) {
    throw new RepositoryError(`${what} is malformed (chunk list does not cover the disk)`);
  }
  return m as Manifest;
}
