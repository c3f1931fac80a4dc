import { sliceSource, type ByteSource } from '../common/byte-source.js';
import { openStoredDisk } from '../datapath/stored-disk.js';
import type { Manifest } from '../repository/manifest.js';
import type { Repository } from '../repository/repository.js';
import { NtfsVolume } from '../ntfs/volume.js';
import { buildCatalog } from './catalog.js';
import { decodeCatalog, encodeCatalog } from './catalog-codec.js';
import type { RecoveryPointCatalog } from './find.js';
import { listVolumes } from './open-volume.js';

const PREFIX = 'files-';

/** Repository object name of a volume's catalog: one per NTFS volume of a disk. */
function catalogName(partition: number | null): string {
  return `${PREFIX}${partition === null ? 'volume' : `p${partition}`}.ndjson`;
}

export interface StoredCatalog {
  partition: number | null;
  files: number;
  bytes: number;
}

/**
 * Builds and stores a catalog for every NTFS volume of a recovery point. It reads the disk back from
 * the repository rather than from the source, so the catalog describes exactly what was stored.
 */
export async function storeCatalogs(
  repo: Repository,
  manifest: Manifest,
  disk?: ByteSource,
): Promise<StoredCatalog[]> {
  const source = disk ?? (await openStoredDisk(repo, manifest.id));
  const { volumes } = await listVolumes(source);
  const stored: StoredCatalog[] = [];
  for (const { partition, fileSystem } of volumes) {
    if (fileSystem !== 'ntfs') {
      continue;
    }
    const volumeSource = partition ? sliceSource(source, partition.start, partition.size) : source;
    const volume = await NtfsVolume.open(volumeSource);
    const catalog = await buildCatalog(volume, {
      partition: partition?.number ?? null,
      volumeOffset: partition?.start ?? 0,
      chunkSize: manifest.chunkSize,
    });
    const data = encodeCatalog(catalog);
    await repo.putCatalog(manifest.id, catalogName(catalog.partition), data);
    stored.push({ partition: catalog.partition, files: catalog.entries.length, bytes: data.length });
  }
  return stored;
}

export interface CatalogFilter {
  /** Only recovery points of this VM: the manifest's `vm` source fact, else the disk name's first segment. */
  vm?: string;
}

function vmOf(manifest: Manifest): string {
  return manifest.source.vm ?? manifest.disk.name.split('/')[0] ?? manifest.disk.name;
}

/** The catalogs of every recovery point (optionally of one VM), plus the ids of points that have none. */
export async function loadCatalogs(
  repo: Repository,
  filter: CatalogFilter = {},
): Promise<{ points: RecoveryPointCatalog[]; uncatalogued: string[] }> {
  const points: RecoveryPointCatalog[] = [];
  const uncatalogued: string[] = [];
  for (const id of await repo.listManifestIds()) {
    const manifest = await repo.loadManifest(id);
    if (filter.vm !== undefined && vmOf(manifest).toLowerCase() !== filter.vm.toLowerCase()) {
      continue;
    }
    const names = (await repo.listCatalogs(id)).filter((n) => n.startsWith(PREFIX));
    if (names.length === 0) {
      uncatalogued.push(id);
    }
    for (const name of names) {
      const data = await repo.getCatalog(id, name);
      if (data) {
        points.push({
          manifestId: id,
          createdAt: manifest.createdAt,
          diskName: manifest.disk.name,
          catalog: decodeCatalog(data, `catalog ${id}/${name}`),
        });
      }
    }
  }
  return { points, uncatalogued };
}

/**
 * The backup path's entry point: the recovery point already exists, so a catalog that cannot be
 * built (damaged volume, unreadable file system) becomes a warning, never a failed backup.
 */
export async function catalogRecoveryPoint(
  repo: Repository,
  manifest: Manifest,
): Promise<{ catalogs: StoredCatalog[]; warning?: string }> {
  try {
    return { catalogs: await storeCatalogs(repo, manifest) };
  } catch (err) {
    return {
      catalogs: [],
      warning: `no file catalog for ${manifest.id}: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
}
