/**
 * Verifies a repository. The structural check reads every manifest, index and pack header and
 * confirms each chunk a manifest uses is indexed in a pack that holds it; `readData` also
 * decrypts every blob and checks its content against its id. Each problem names the damaged
 * object and the recovery points it affects.
 */
import { decodeChunk } from './codec.js';
import { takeInventory } from './inventory.js';
import { packKey } from './layout.js';
import { readPackHeader } from './pack.js';
import type { Repository } from './repository.js';

export interface CheckProblem {
  object: string;
  problem: string;
  /** Manifest ids whose disks cannot be fully restored because of this problem. */
  affectedManifests: string[];
  /** Chunks (ids) this problem makes unreadable here: what healing must fetch from a copy. */
  lostChunks?: string[];
}

export interface CheckReport {
  manifests: number;
  packs: number;
  chunks: number;
  chunksVerified: number;
  bytesVerified: number;
  problems: CheckProblem[];
}

export async function checkRepository(
  repo: Repository,
  { readData = false }: { readData?: boolean } = {},
): Promise<CheckReport> {
  const inv = await takeInventory(repo);
  const problems: CheckProblem[] = [
    ...inv.unreadableManifests.map((m) => ({
      object: `manifests/${m.id}`,
      problem: m.error,
      affectedManifests: [m.id],
    })),
    ...inv.unreadableIndexes.map((i) => ({ object: i.key, problem: i.error, affectedManifests: [] })),
  ];
  const affected = (chunkIds: Iterable<string>): string[] =>
    [...new Set([...chunkIds].flatMap((id) => inv.users.get(id) ?? []))].sort();

  // Index entries must point at blobs the pack's own header lists.
  const headerEntries = new Map<string, Set<string>>();
  for (const [pack, info] of inv.packs) {
    try {
      const entries = await readPackHeader(repo.keys, pack, info.size, (o, l) =>
        repo.storage.getRange(info.key, o, l),
      );
      headerEntries.set(pack, new Set(entries.map((e) => `${e.id}@${e.offset}+${e.length}`)));
    } catch (err) {
      const ids = inv.entries.filter((e) => e.pack === pack).map((e) => e.id);
      problems.push({
        object: info.key,
        problem: err instanceof Error ? err.message : String(err),
        affectedManifests: affected(ids),
        lostChunks: [...new Set(ids.filter((id) => inv.users.has(id)))],
      });
    }
  }
  const located = new Set<string>();
  for (const e of inv.entries) {
    const header = headerEntries.get(e.pack);
    if (header?.has(`${e.id}@${e.offset}+${e.length}`)) {
      located.add(e.id);
    }
  }
  const missing = [...inv.users.keys()].filter((id) => !located.has(id));
  for (const id of missing) {
    const known = inv.entries.find((e) => e.id === id);
    const problem = known
      ? inv.packs.has(known.pack)
        ? `chunk is not where the index says in pack ${known.pack}`
        : `pack ${known.pack} holding the chunk is missing`
      : 'chunk is in no index';
    problems.push({ object: `chunk ${id}`, problem, affectedManifests: affected([id]), lostChunks: [id] });
  }

  let chunksVerified = 0;
  let bytesVerified = 0;
  if (readData) {
    for (const [pack, info] of inv.packs) {
      if (!headerEntries.has(pack)) {
        continue;
      }
      const data = await repo.storage.get(info.key);
      const entries = await readPackHeader(repo.keys, pack, data.length, (o, l) =>
        Promise.resolve(data.subarray(o, o + l)),
      );
      for (const e of entries) {
        try {
          decodeChunk(repo.keys, Buffer.from(e.id, 'hex'), data.subarray(e.offset, e.offset + e.length));
          chunksVerified++;
          bytesVerified += e.length;
        } catch (err) {
          problems.push({
            object: `chunk ${e.id} in ${packKey(pack)}`,
            problem: err instanceof Error ? err.message : String(err),
            affectedManifests: affected([e.id]),
            lostChunks: [e.id],
          });
        }
      }
    }
  }
  return {
    manifests: inv.manifests.length,
    packs: inv.packs.size,
    chunks: inv.users.size,
    chunksVerified,
    bytesVerified,
    problems,
  };
}

export interface ManifestCheckReport {
  manifests: number;
  chunks: number;
  chunksVerified: number;
  bytesVerified: number;
  problems: CheckProblem[];
}

/**
 * `check --read-data` for some manifests only: every chunk they use is located, read, decrypted
 * and checked against its id. What a scheduled verification of one recovery point runs; it costs
 * the point's stored size, not the repository's.
 */
export async function checkManifests(
  repo: Repository,
  manifestIds: readonly string[],
  onProgress?: (bytesVerified: number) => void,
): Promise<ManifestCheckReport> {
  const index = await repo.loadIndex();
  const problems: CheckProblem[] = [];
  const users = new Map<string, string[]>();
  for (const id of manifestIds) {
    try {
      const manifest = await repo.loadManifest(id);
      for (const chunk of new Set(manifest.chunks)) {
        if (chunk !== null) {
          users.set(chunk, [...(users.get(chunk) ?? []), id]);
        }
      }
    } catch (err) {
      problems.push({
        object: `manifests/${id}`,
        problem: err instanceof Error ? err.message : String(err),
        affectedManifests: [id],
      });
    }
  }
  // In pack order, so a filesystem or object store reads each pack front to back.
  const located = [...users.keys()]
    .map((id) => ({ id, location: index.get(id) }))
    .sort(
      (a, b) =>
        (a.location?.pack ?? '').localeCompare(b.location?.pack ?? '') ||
        (a.location?.offset ?? 0) - (b.location?.offset ?? 0),
    );
  let chunksVerified = 0;
  let bytesVerified = 0;
  for (const { id, location } of located) {
    const affectedManifests = users.get(id) ?? [];
    if (!location) {
      problems.push({
        object: `chunk ${id}`,
        problem: 'chunk is in no index',
        affectedManifests,
        lostChunks: [id],
      });
      continue;
    }
    try {
      await repo.readChunk(id, location);
      chunksVerified++;
      bytesVerified += location.length;
      onProgress?.(bytesVerified);
    } catch (err) {
      problems.push({
        object: `chunk ${id} in ${packKey(location.pack)}`,
        problem: err instanceof Error ? err.message : String(err),
        affectedManifests,
        lostChunks: [id],
      });
    }
  }
  return { manifests: manifestIds.length, chunks: users.size, chunksVerified, bytesVerified, problems };
}
