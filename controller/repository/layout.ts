/**
 * Where each kind of object lives in storage. One place, so the format document, the writer,
 * garbage collection and check agree. See docs/repository-format.md.
 */
export const CONFIG_KEY = 'config';
export const PACKS_PREFIX = 'packs/';
export const INDEX_PREFIX = 'index/';
export const MANIFESTS_PREFIX = 'manifests/';
export const CATALOGS_PREFIX = 'catalogs/';
export const CONDEMNED_PREFIX = 'gc/condemned/';

export function packKey(packId: string): string {
  return `${PACKS_PREFIX}${packId.slice(0, 2)}/${packId}`;
}

export function packIdOfKey(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

export function manifestKey(manifestId: string): string {
  return `${MANIFESTS_PREFIX}${manifestId}`;
}

export function catalogKey(manifestId: string, name: string): string {
  return `${CATALOGS_PREFIX}${manifestId}/${name}`;
}

const idPattern = /^[A-Za-z0-9._-]+$/;

/** Ids and names become key segments; refuse anything that could reach outside its folder. */
export function assertSegment(kind: string, value: string): void {
  if (!idPattern.test(value) || value === '.' || value === '..') {
    throw new RangeError(`${kind} '${value}' may contain only letters, digits, '.', '_' and '-'`);
  }
}
