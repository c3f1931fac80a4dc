/**
 * A read-only snapshot of what a repository holds, shared by garbage collection and check:
 * manifests and the chunks they use, index entries, and the packs present in storage.
 */
import type { ObjectInfo } from '../storage/storage.js';
import { decodeIndex, type IndexEntry } from './chunk-index.js';
import { INDEX_PREFIX, PACKS_PREFIX, packIdOfKey } from './layout.js';
import type { Manifest } from './manifest.js';
import type { Repository } from './repository.js';

export interface Inventory {
  manifests: Manifest[];
  /** Manifests that could not be read, with why. */
  unreadableManifests: { id: string; error: string }[];
  /** Chunk id → ids of the manifests that use it. */
  users: Map<string, string[]>;
  indexObjects: ObjectInfo[];
  unreadableIndexes: { key: string; error: string }[];
  entries: IndexEntry[];
  packs: Map<string, ObjectInfo>;
}

export async function takeInventory(repo: Repository): Promise<Inventory> {
  const manifests: Manifest[] = [];
  const unreadableManifests: Inventory['unreadableManifests'] = [];
  for (const id of await repo.listManifestIds()) {
    try {
      manifests.push(await repo.loadManifest(id));
    } catch (err) {
      unreadableManifests.push({ id, error: err instanceof Error ? err.message : String(err) });
    }
  }
  const users = new Map<string, string[]>();
  for (const m of manifests) {
    for (const id of new Set(m.chunks)) {
      if (id !== null) {
        users.set(id, [...(users.get(id) ?? []), m.id]);
      }
    }
  }
  const indexObjects = await repo.storage.list(INDEX_PREFIX);
  const unreadableIndexes: Inventory['unreadableIndexes'] = [];
  const entries: IndexEntry[] = [];
  for (const o of indexObjects) {
    try {
      entries.push(...decodeIndex(await repo.getObject(o.key), `index ${o.key}`));
    } catch (err) {
      unreadableIndexes.push({ key: o.key, error: err instanceof Error ? err.message : String(err) });
    }
  }
  const packs = new Map((await repo.storage.list(PACKS_PREFIX)).map((o) => [packIdOfKey(o.key), o]));
  return { manifests, unreadableManifests, users, indexObjects, unreadableIndexes, entries, packs };
}
