/**
 * Writes one backup's new chunks into packs and commits its manifest. The order is what makes an
 * interrupted backup harmless: packs, then the index object naming them, then the manifest. Until
 * the manifest exists nothing refers to the new objects, and garbage collection removes them later.
 */
import { randomBytes } from 'node:crypto';
import { type ChunkIndex, type IndexEntry, encodeIndex } from './chunk-index.js';
import { RepositoryError } from './errors.js';
import type { PutOptions } from '../storage/storage.js';
import { INDEX_PREFIX, PACKS_PREFIX, manifestKey, packIdOfKey, packKey } from './layout.js';
import { newManifestId, type Manifest } from './manifest.js';
import { PackBuilder } from './pack.js';
import type { Repository } from './repository.js';

/** Called once a blob given to `add` is written (or found stored already): its memory may go. */
export type BlobWritten = () => void;

export class BackupWriter {
  private pack = new PackBuilder();
  /** The current pack's callbacks, called when its write has finished. */
  private packWritten: BlobWritten[] = [];
  private pendingWrite: Promise<void> = Promise.resolve();
  private readonly written: IndexEntry[] = [];
  private readonly added = new Set<string>();
  /** Sealed bytes written to storage (packs, index, manifest). */
  bytesUploaded = 0;

  constructor(
    private readonly repo: Repository,
    /** Loaded with `forWriting`, so it never points into condemned packs. */
    private readonly index: ChunkIndex,
    /** How every object is written, e.g. locked until a date for immutable offsite copies. */
    private readonly putOptions: PutOptions = {},
  ) {}

  /** Whether a chunk is already stored (or queued by this backup): then it is not stored again. */
  has(id: string): boolean {
    return this.added.has(id) || this.index.has(id);
  }

  /**
   * Stores the blob with the next pack. The writer keeps a reference to its memory until the
   * pack is written, and then calls `written`: the caller must not change the memory before.
   */
  async add(id: string, blob: readonly Uint8Array[], written?: BlobWritten): Promise<void> {
    if (this.has(id)) {
      written?.();
      return;
    }
    this.added.add(id);
    this.pack.add(id, blob);
    if (written) {
      this.packWritten.push(written);
    }
    if (this.pack.size >= this.repo.config.packSize || this.pack.full) {
      await this.flush();
    }
  }

  /** Starts writing the current pack; at most one pack write runs while the next one fills. */
  private async flush(): Promise<void> {
    if (this.pack.count === 0) {
      return;
    }
    const full = this.pack;
    const written = this.packWritten;
    this.pack = new PackBuilder();
    this.packWritten = [];
    await this.pendingWrite;
    const { parts, entries, size } = full.finish(this.repo.keys);
    this.pendingWrite = this.repo.storage.put(packKey(full.id), parts, this.putOptions).then(() => {
      this.written.push(...entries);
      this.bytesUploaded += size;
      for (const done of written) {
        done();
      }
    });
    // Surface a failed write at the next await rather than as an unhandled rejection.
    this.pendingWrite.catch(() => undefined);
  }

  /**
   * Makes the manifest visible, after everything it references is durable; its bytesUploaded
   * counts the packs and index written (the manifest itself cannot count its own size). Chunks reused from
   * packs that garbage collection condemned meanwhile are copied into a new pack first.
   */
  async commit(draft: Omit<Manifest, 'id' | 'createdAt' | 'host'>): Promise<Manifest> {
    // The last pack is written while condemnations and stored packs are listed; chunks to rescue
    // go into a pack of their own.
    await this.flush();
    await this.rescueCondemned(draft.chunks);
    await this.finishPacks();
    const manifest: Manifest = {
      ...draft,
      stats: { ...draft.stats, bytesUploaded: this.bytesUploaded },
      id: newManifestId(),
      createdAt: new Date().toISOString(),
      host: this.repo.host,
    };
    await this.repo.putObject(manifestKey(manifest.id), Buffer.from(JSON.stringify(manifest)));
    return manifest;
  }

  /**
   * Writes the last pack and then one index object naming every pack written since the previous
   * call: from then on the chunks are found by readers and by later writers.
   */
  async finishPacks(): Promise<void> {
    await this.flush();
    await this.pendingWrite;
    if (this.written.length > 0) {
      this.bytesUploaded += await this.repo.putObject(
        `${INDEX_PREFIX}${randomBytes(16).toString('hex')}`,
        encodeIndex(this.written.splice(0)),
        this.putOptions,
      );
    }
  }

  private async rescueCondemned(chunks: readonly (string | null)[]): Promise<void> {
    const condemned = new Set((await this.repo.loadCondemnations()).flatMap((c) => c.packs));
    const existing = new Set((await this.repo.storage.list(PACKS_PREFIX)).map((o) => packIdOfKey(o.key)));
    const reused = new Set(chunks.filter((id): id is string => id !== null && !this.added.has(id)));
    for (const id of reused) {
      const location = this.index.get(id);
      if (!location || !existing.has(location.pack)) {
        throw new RepositoryError(
          `chunk ${id} is no longer stored (removed by a concurrent garbage collection?); run the backup again`,
        );
      }
      if (condemned.has(location.pack)) {
        // Blobs are sealed under their chunk id, not their pack, so they move byte for byte.
        const blob = await this.repo.storage.getRange(
          packKey(location.pack),
          location.offset,
          location.length,
        );
        this.added.add(id);
        this.pack.add(id, [blob]);
      }
    }
  }
}
