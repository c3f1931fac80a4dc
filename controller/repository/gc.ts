/**
 * Garbage collection without a global lock, by mark and sweep with a grace period:
 * 1. mark: packs holding no chunk any manifest uses, and older than the grace period (so packs of
 *    backups still running are spared), are listed in a condemnation record;
 * 2. sweep: packs in records older than the grace period that are still unused are deleted.
 * Writers never take new references into condemned packs (they copy such chunks, see writer.ts),
 * so a pack is deleted only when nothing can be using it. Partly used packs are kept whole.
 */
import { randomBytes } from 'node:crypto';
import { TEMP_PREFIX } from '../storage/filesystem.js';
import { encodeIndex } from './chunk-index.js';
import { ObjectLockedError } from '../storage/storage.js';
import { RepositoryError } from './errors.js';
import { takeInventory } from './inventory.js';
import { CONDEMNED_PREFIX, INDEX_PREFIX, packIdOfKey as packIdOf, packKey } from './layout.js';
import type { Condemnation, Repository } from './repository.js';

export interface GcOptions {
  /** How old an unused pack, condemnation or temporary file must be before it goes. */
  graceMs: number;
  now?: Date;
}

export interface GcReport {
  manifests: number;
  packs: number;
  packsCondemned: number;
  packsDeleted: number;
  bytesFreed: number;
  temporaryFilesDeleted: number;
  /** Objects an immutability lock kept; they go at a later run, once the lock has expired. */
  objectsLocked: number;
}

/** Deletes an object unless a lock protects it; true when it is gone. */
async function deleteUnlessLocked(repo: Repository, key: string, report: GcReport): Promise<boolean> {
  try {
    await repo.storage.delete(key);
    return true;
  } catch (err) {
    if (err instanceof ObjectLockedError) {
      report.objectsLocked++;
      return false;
    }
    throw err;
  }
}

export const DEFAULT_GRACE_MS = 24 * 60 * 60 * 1000;

/**
 * Records packs as going: from now on writers copy chunks out of them rather than reference them,
 * and readers prefer any other copy of their chunks.
 */
export async function condemnPacks(repo: Repository, packs: string[], now: Date): Promise<Condemnation> {
  const key = `${CONDEMNED_PREFIX}${now.toISOString().replace(/[-:.]/g, '')}-${randomBytes(4).toString('hex')}`;
  await repo.putObject(key, Buffer.from(JSON.stringify(packs)));
  return { key, at: now, packs };
}

export async function collectGarbage(repo: Repository, options: GcOptions): Promise<GcReport> {
  const now = options.now ?? new Date();
  const old = (modified: Date): boolean => now.getTime() - modified.getTime() >= options.graceMs;
  const inv = await takeInventory(repo);
  if (inv.unreadableManifests.length > 0 || inv.unreadableIndexes.length > 0) {
    // An unreadable manifest's chunks look unused: deleting them would finish off a damaged backup.
    throw new RepositoryError(
      'garbage collection refused: some manifests or indexes cannot be read; run `repo check` first',
    );
  }
  const condemnations = await repo.loadCondemnations();
  const alreadyCondemned = new Set(condemnations.flatMap((c) => c.packs));
  // A chunk copied out of a condemned pack (writer.ts) keeps only its new pack in use.
  const holders = Map.groupBy(
    inv.entries.filter((e) => inv.users.has(e.id) && inv.packs.has(e.pack)),
    (e) => e.id,
  );
  const used = new Set<string>();
  for (const entries of holders.values()) {
    const live = entries.filter((e) => !alreadyCondemned.has(e.pack));
    for (const e of live.length > 0 ? live : entries) {
      used.add(e.pack);
    }
  }
  const report: GcReport = {
    manifests: inv.manifests.length,
    packs: inv.packs.size,
    packsCondemned: 0,
    packsDeleted: 0,
    bytesFreed: 0,
    temporaryFilesDeleted: 0,
    objectsLocked: 0,
  };

  const toCondemn = [...inv.packs.values()].filter(
    (p) => !used.has(packIdOf(p.key)) && !alreadyCondemned.has(packIdOf(p.key)) && old(p.modified),
  );
  if (toCondemn.length > 0) {
    const packs = toCondemn.map((p) => packIdOf(p.key));
    condemnations.push(await condemnPacks(repo, packs, now));
    report.packsCondemned = packs.length;
  }

  const deleted = new Set<string>();
  for (const c of condemnations) {
    if (!old(c.at)) {
      continue;
    }
    let locked = false;
    for (const pack of c.packs) {
      const info = inv.packs.get(pack);
      if (info && !used.has(pack)) {
        if (await deleteUnlessLocked(repo, packKey(pack), report)) {
          deleted.add(pack);
          report.bytesFreed += info.size;
        } else {
          locked = true;
        }
      }
    }
    // A record with locked packs stays, so a later run deletes them once their lock expires.
    if (!locked) {
      await repo.storage.delete(c.key);
    }
  }
  report.packsDeleted = deleted.size;

  // Entries of packs deleted now, or earlier (healing removes damaged packs), are dropped.
  const gone = (pack: string): boolean => deleted.has(pack) || !inv.packs.has(pack);
  if (deleted.size > 0 || inv.entries.some((e) => gone(e.pack))) {
    // One index object for what remains replaces the ones read; indexes written meanwhile stay.
    const seen = new Set<string>();
    const remaining = inv.entries.filter(
      (e) => !gone(e.pack) && !seen.has(`${e.pack}/${e.id}`) && seen.add(`${e.pack}/${e.id}`),
    );
    if (remaining.length > 0) {
      await repo.putObject(`${INDEX_PREFIX}${randomBytes(16).toString('hex')}`, encodeIndex(remaining));
    }
    for (const o of inv.indexObjects) {
      await deleteUnlessLocked(repo, o.key, report);
    }
  }

  for (const t of await repo.storage.list(TEMP_PREFIX)) {
    if (old(t.modified)) {
      await repo.storage.delete(t.key);
      report.temporaryFilesDeleted++;
    }
  }
  return report;
}
