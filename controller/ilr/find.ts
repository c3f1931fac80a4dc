import type { Catalog, CatalogEntry } from './catalog.js';

const GLOB_TOKENS: Readonly<Record<string, string>> = {
  '**/': '(?:.*/)?',
  '**': '.*',
  '*': '[^/]*',
  '?': '[^/]',
};

/**
 * Turns a glob into a case-insensitive matcher (Windows paths are case-insensitive): `*` and `?`
 * stay within one path component, `**` crosses components. A pattern without `/` matches file
 * names anywhere; with `/` it matches the whole path from the volume root.
 */
export function globMatcher(pattern: string): (path: string) => boolean {
  const normalized = pattern.replace(/\\/g, '/');
  const source = normalized
    .split(/(\*\*\/|\*\*|\*|\?)/)
    .map((part) => GLOB_TOKENS[part] ?? part.replace(/[.+^${}()|[\]\\]/g, '\\$&'))
    .join('');
  const anchored = normalized.includes('/')
    ? `^${normalized.startsWith('/') ? '' : '/'}${source}$`
    : `(?:^|/)${source}$`;
  const regexp = new RegExp(anchored, 'iu');
  return (path) => regexp.test(path);
}

export interface RecoveryPointCatalog {
  manifestId: string;
  /** When the recovery point was taken (ISO 8601). */
  createdAt: string;
  diskName: string;
  catalog: Catalog;
}

export interface FileVersion {
  manifestId: string;
  createdAt: string;
  diskName: string;
  partition: number | null;
  size: number;
  modified: number;
}

/** Every version of every matching file across recovery points, by path, newest recovery point first. */
export function findVersions(points: RecoveryPointCatalog[], pattern: string): Map<string, FileVersion[]> {
  const matches = globMatcher(pattern);
  const byPath = new Map<string, FileVersion[]>();
  for (const point of points) {
    for (const entry of point.catalog.entries.filter(
      (e: CatalogEntry) => !e.isDirectory && matches(e.path),
    )) {
      const versions = byPath.get(entry.path) ?? [];
      versions.push({
        manifestId: point.manifestId,
        createdAt: point.createdAt,
        diskName: point.diskName,
        partition: point.catalog.partition,
        size: entry.size,
        modified: entry.modified,
      });
      byPath.set(entry.path, versions);
    }
  }
  for (const versions of byPath.values()) {
    versions.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }
  return new Map([...byPath].sort(([a], [b]) => a.localeCompare(b)));
}
