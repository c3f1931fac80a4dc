/**
 * Healing a damaged repository from its offsite twin. Every chunk a recovery point uses that sits
 * in a damaged pack is moved into new packs: healthy blobs from the damaged pack itself, lost ones
 * from the copy (sealed blobs move byte for byte between twins, and each is authenticated before it
 * is written). The damaged packs are then condemned (readers and writers stop using them) and
 * removed; damaged manifests are replaced by the copy's. What the copy cannot supply is listed with
 * the recovery points it affects.
 */
import { ChunkIndex } from '../repository/chunk-index.js';
import { CopyError } from './copy-point.js';
import { checkRepository, type CheckProblem } from '../repository/check.js';
import { decodeChunk } from '../repository/codec.js';
import { condemnPacks } from '../repository/gc.js';
import { takeInventory } from '../repository/inventory.js';
import { MANIFESTS_PREFIX, packKey } from '../repository/layout.js';
import type { Repository } from '../repository/repository.js';
import { BackupWriter } from '../repository/writer.js';

export interface HealReport {
  /** Problems `check --read-data` found before healing. */
  found: CheckProblem[];
  packsReplaced: string[];
  chunksFromCopy: number;
  chunksMoved: number;
  manifestsReplaced: string[];
  /** What still damages recovery points afterwards (nothing the copy could supply). */
  remaining: CheckProblem[];
  /** Damage no recovery point depends on (e.g. a pack of a killed backup): garbage collection removes it. */
  unusedDamage: CheckProblem[];
}

/** Reads one blob and proves it is the chunk it claims to be; undefined when it is not there or bad. */
async function goodBlob(repo: Repository, id: string, index: ChunkIndex): Promise<Buffer | undefined> {
  const location = index.get(id);
  if (!location) {
    return undefined;
  }
  try {
    const blob = await repo.storage.getRange(packKey(location.pack), location.offset, location.length);
    decodeChunk(repo.keys, Buffer.from(id, 'hex'), blob);
    return blob;
  } catch {
    return undefined;
  }
}

export async function healFromCopy(
  primary: Repository,
  copy: Repository,
  { now = new Date() }: { now?: Date } = {},
): Promise<HealReport> {
  if (!primary.sharesKeysWith(copy)) {
    throw new CopyError(
      `${copy.storage.url} is not a copy of ${primary.storage.url} (another key): it cannot heal it`,
    );
  }
  const found = (await checkRepository(primary, { readData: true })).problems;
  const report: HealReport = {
    found,
    packsReplaced: [],
    chunksFromCopy: 0,
    chunksMoved: 0,
    manifestsReplaced: [],
    remaining: [],
    unusedDamage: [],
  };
  if (found.length === 0) {
    return report;
  }

  // Damaged manifests first: the chunks they list must be known before packs are judged.
  const copyManifests = new Set((await copy.storage.list(MANIFESTS_PREFIX)).map((o) => o.key));
  for (const p of found.filter((f) => f.object.startsWith(MANIFESTS_PREFIX))) {
    if (copyManifests.has(p.object)) {
      await primary.storage.put(p.object, await copy.storage.get(p.object));
      report.manifestsReplaced.push(p.object.slice(MANIFESTS_PREFIX.length));
    }
  }

  const inv = await takeInventory(primary);
  const lost = new Set(found.flatMap((f) => f.lostChunks ?? []).filter((id) => inv.users.has(id)));
  const index = await primary.loadIndex();
  const entriesByPack = Map.groupBy(inv.entries, (e) => e.pack);
  const damagedPacks = new Set(inv.entries.filter((e) => lost.has(e.id)).map((e) => e.pack));
  const copyIndex = await copy.loadIndex();
  const writer = new BackupWriter(primary, new ChunkIndex());
  const unhealable = new Set<string>();
  for (const pack of damagedPacks) {
    const used = [
      ...new Set((entriesByPack.get(pack) ?? []).filter((e) => inv.users.has(e.id)).map((e) => e.id)),
    ];
    for (const id of used) {
      const own = lost.has(id) ? undefined : await goodBlob(primary, id, index);
      const blob = own ?? (await goodBlob(copy, id, copyIndex));
      if (!blob) {
        unhealable.add(pack);
        continue;
      }
      await writer.add(id, [blob]);
      if (own) {
        report.chunksMoved++;
      } else {
        report.chunksFromCopy++;
      }
    }
  }
  await writer.finishPacks();

  const replaced = [...damagedPacks].filter((p) => !unhealable.has(p));
  if (replaced.length > 0) {
    // Condemned before deleted: a backup committing meanwhile copies instead of referencing them.
    await condemnPacks(primary, replaced, now);
    for (const pack of replaced) {
      await primary.storage.delete(packKey(pack));
    }
  }
  report.packsReplaced = replaced;
  const after = (await checkRepository(primary, { readData: true })).problems;
  report.remaining = after.filter((p) => p.affectedManifests.length > 0);
  report.unusedDamage = after.filter((p) => p.affectedManifests.length === 0);
  return report;
}
