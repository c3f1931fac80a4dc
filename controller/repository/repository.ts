/**
 * A repository opened with its key: typed access to configuration, manifests, the chunk index,
 * chunks and metadata objects. Writing new chunks goes through a BackupWriter (writer.ts).
 * Nothing here takes a lock: every writer creates new, uniquely named objects only.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { hostname } from 'node:os';
import { ObjectNotFoundError, type PutOptions, type Storage } from '../storage/storage.js';
import { ChunkIndex, decodeIndex, type ChunkLocation, type IndexEntry } from './chunk-index.js';
import { decodeChunk, decodeObject, encodeObject } from './codec.js';
import { FORMAT_NAME, FORMAT_VERSION, parseConfig, type RepositoryConfig } from './config.js';
import { deriveKeys, type RepositoryKeys } from './crypto.js';
import { RepositoryError, UnsupportedFormatError } from './errors.js';
import { assertKeyMaterial, unwrapMasterKey, wrapMasterKey } from './keys.js';
import {
  CATALOGS_PREFIX,
  CONDEMNED_PREFIX,
  CONFIG_KEY,
  INDEX_PREFIX,
  MANIFESTS_PREFIX,
  assertSegment,
  catalogKey,
  manifestKey,
  packKey,
} from './layout.js';
import { manifestIdTime, parseManifest, type Manifest } from './manifest.js';

export interface InitOptions {
  chunkSize?: number;
  packSize?: number;
  compressionLevel?: number;
}

interface InitWithKey extends InitOptions {
  /** Share this master key (of another repository) instead of making a fresh one. */
  masterKey?: Buffer;
}

/**
 * 256 KiB: measured on the benchmark's NTFS disk with scattered 4 KiB-1 MiB writes, repository
 * growth per incremental was 1.25x the bytes the guest changed (1 MiB chunks: 2.0x, 64 KiB: 1.06x)
 * at the same full-backup speed as 1 MiB (64 KiB chunks were 2.5x slower). See docs/performance.md.
 */
export const DEFAULT_CHUNK_SIZE = 256 * 1024;
export const DEFAULT_PACK_SIZE = 16 * 1024 * 1024;
/**
 * zstd level 1: on disk images it stores about 1% more than level 3 for 30% less compression CPU
 * (docs/performance.md); the level lives in each repository's config, so older ones keep theirs.
 */
export const DEFAULT_COMPRESSION_LEVEL = 1;

/** How far before a manifest's creation time its id may be stamped (both are taken in one commit, microseconds apart). */
const ID_STAMP_MARGIN_MS = 1000;

/** Packs listed by a garbage collection run as unused; writers must not reuse chunks from them. */
export interface Condemnation {
  key: string;
  at: Date;
  packs: string[];
}

export class Repository {
  private constructor(
    readonly storage: Storage,
    readonly config: RepositoryConfig,
    private readonly masterKey: Buffer,
    readonly keys: RepositoryKeys = deriveKeys(masterKey),
  ) {}

  /**
   * Creates a repository in empty storage: a fresh random master key wrapped by `keyMaterial`
   * (the key file's bytes). Fails if a repository already exists there.
   */
  static async init(storage: Storage, keyMaterial: Buffer, options: InitOptions = {}): Promise<Repository> {
    return Repository.create(storage, keyMaterial, options);
  }

  /**
   * Creates an offsite twin of `source` in empty storage: the same master key (wrapped by this
   * repository's own key material) and chunk size, so chunk ids agree and copies move sealed
   * bytes untouched, deduplicated against everything the twin already holds.
   */
  static async initCopyOf(storage: Storage, keyMaterial: Buffer, source: Repository): Promise<Repository> {
    const { chunkSize, packSize, compressionLevel } = source.config;
    return Repository.create(storage, keyMaterial, {
      chunkSize,
      packSize,
      compressionLevel,
      masterKey: source.masterKey,
    });
  }

  /** Whether sealed chunks and objects of `other` can be copied here byte for byte. */
  sharesKeysWith(other: Repository): boolean {
    return timingSafeEqual(this.masterKey, other.masterKey);
  }

  private static async create(
    storage: Storage,
    keyMaterial: Buffer,
    options: InitWithKey,
  ): Promise<Repository> {
    assertKeyMaterial(keyMaterial, 'given');
    const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (chunkSize < 4096 || chunkSize > 16 * 1024 * 1024 || (chunkSize & (chunkSize - 1)) !== 0) {
      throw new RepositoryError(`chunk size ${chunkSize} must be a power of two between 4 KiB and 16 MiB`);
    }
    const id = randomBytes(16).toString('hex');
    const masterKey = options.masterKey ?? randomBytes(32);
    const config: RepositoryConfig = {
      format: FORMAT_NAME,
      version: FORMAT_VERSION,
      id,
      createdAt: new Date().toISOString(),
      chunkSize,
      packSize: options.packSize ?? DEFAULT_PACK_SIZE,
      compressionLevel: options.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL,
      keys: [await wrapMasterKey(masterKey, keyMaterial, id)],
    };
    if ((await storage.list(MANIFESTS_PREFIX)).length > 0 || (await storage.stat(CONFIG_KEY))) {
      throw new RepositoryError(`${storage.url}: a repository already exists here`);
    }
    await storage.create(CONFIG_KEY, Buffer.from(JSON.stringify(config, null, 2) + '\n'));
    return new Repository(storage, config, masterKey);
  }

  /** Opens an existing repository; WrongKeyError if the key does not fit, UnsupportedFormatError if too new. */
  static async open(storage: Storage, keyMaterial: Buffer): Promise<Repository> {
    let text: string;
    try {
      text = (await storage.get(CONFIG_KEY)).toString('utf8');
    } catch (err) {
      if (err instanceof ObjectNotFoundError) {
        throw new UnsupportedFormatError(
          `${storage.url}: no repository here (no config object); create one with 'repo init'`,
        );
      }
      throw err;
    }
    const config = parseConfig(text, storage.url);
    const masterKey = await unwrapMasterKey(config.keys, keyMaterial, config.id);
    return new Repository(storage, config, masterKey);
  }

  // --- sealed metadata objects ---

  /** Seals and stores a metadata object; returns the bytes stored. */
  async putObject(key: string, data: Uint8Array, options?: PutOptions): Promise<number> {
    const sealed = encodeObject(this.keys, key, data);
    await this.storage.put(key, sealed, options);
    return sealed.length;
  }

  async getObject(key: string): Promise<Buffer> {
    return decodeObject(this.keys, key, await this.storage.get(key));
  }

  /**
   * Stores a small encrypted object tied to a manifest, such as the file catalog of a recovery
   * point. `name` is a single path segment. Overwrites an earlier object of the same name.
   * Garbage collection deletes a manifest's catalogs with the manifest.
   */
  async putCatalog(manifestId: string, name: string, data: Uint8Array): Promise<void> {
    assertSegment('manifest id', manifestId);
    assertSegment('catalog name', name);
    await this.putObject(catalogKey(manifestId, name), data);
  }

  /** Reads a catalog object back (decrypted, authenticated), or undefined if none was stored. */
  async getCatalog(manifestId: string, name: string): Promise<Buffer | undefined> {
    assertSegment('manifest id', manifestId);
    assertSegment('catalog name', name);
    try {
      return await this.getObject(catalogKey(manifestId, name));
    } catch (err) {
      if (err instanceof ObjectNotFoundError) {
        return undefined;
      }
      throw err;
    }
  }

  /** Names of the catalog objects stored for a manifest. */
  async listCatalogs(manifestId: string): Promise<string[]> {
    assertSegment('manifest id', manifestId);
    const prefix = `${CATALOGS_PREFIX}${manifestId}/`;
    return (await this.storage.list(prefix)).map((o) => o.key.slice(prefix.length));
  }

  // --- manifests ---

  async listManifestIds(): Promise<string[]> {
    return (await this.storage.list(MANIFESTS_PREFIX))
      .map((o) => o.key.slice(MANIFESTS_PREFIX.length))
      .sort();
  }

  async loadManifest(id: string): Promise<Manifest> {
    assertSegment('manifest id', id);
    try {
      return parseManifest(await this.getObject(manifestKey(id)), `manifest ${id}`);
    } catch (err) {
      if (err instanceof ObjectNotFoundError) {
        throw new RepositoryError(`no manifest ${id} in ${this.storage.url}`);
      }
      throw err;
    }
  }

  /**
   * The newest manifest of the disk named `name` (of any disk without one), to compare a new
   * backup against or to restore "latest". Creation time
   * decides, then the id: listing order alone could put two backups made close together the
   * wrong way round. A manifest that cannot be read (damaged, or deleted meanwhile) cannot be a
   * parent and is passed over: one damaged recovery point must not stop every later backup
   * (`repo check` reports it). The search goes from the newest id back and stops at ids stamped
   * well before the best match was made (id and creation time come from the same host's clock),
   * so a disk with a long history costs a read or two, not one per recovery point.
   */
  async latestManifest(name?: string): Promise<Manifest | undefined> {
    let latest: Manifest | undefined;
    for (const id of (await this.listManifestIds()).reverse()) {
      const stamped = manifestIdTime(id);
      if (latest && stamped !== undefined && stamped < Date.parse(latest.createdAt) - ID_STAMP_MARGIN_MS) {
        break;
      }
      const m = await this.loadManifest(id).catch((err: unknown) => {
        if (!isDamage(err)) {
          throw err;
        }
        return undefined;
      });
      const newer =
        m &&
        (!latest || m.createdAt > latest.createdAt || (m.createdAt === latest.createdAt && m.id > latest.id));
      if (m && (name === undefined || m.disk.name === name) && newer) {
        latest = m;
      }
    }
    return latest;
  }

  /** Forgets a recovery point: its manifest and catalogs go; chunks go at the next garbage collection. */
  async deleteManifest(id: string): Promise<void> {
    await this.loadManifest(id);
    await this.storage.delete(manifestKey(id));
    for (const name of await this.listCatalogs(id)) {
      await this.storage.delete(catalogKey(id, name));
    }
  }

  // --- chunks ---

  async loadCondemnations(): Promise<Condemnation[]> {
    const objects = await this.storage.list(CONDEMNED_PREFIX);
    return Promise.all(
      objects.map(async (o) => ({
        key: o.key,
        at: o.modified,
        packs: JSON.parse((await this.getObject(o.key)).toString('utf8')) as string[],
      })),
    );
  }

  /**
   * Loads every index object. For writing, chunks in packs condemned by garbage collection are
   * left out, so a backup stores such chunks afresh instead of referencing packs about to go;
   * readers see them all (a condemned pack exists until its grace period has passed), preferring
   * any copy of a chunk outside them. A damaged index object is left out and listed in
   * `unreadable`: a writer then stores its chunks afresh, a reader fails only for recovery points
   * that need them, naming the damaged object.
   */
  async loadIndex({ forWriting = false }: { forWriting?: boolean } = {}): Promise<ChunkIndex> {
    const condemned = new Set((await this.loadCondemnations()).flatMap((c) => c.packs));
    // A chunk also stored outside condemned packs (rescued by a writer, or healed) is read there.
    const preferLive = (current: ChunkLocation, candidate: ChunkLocation): boolean =>
      condemned.has(current.pack) && !condemned.has(candidate.pack);
    const index = new ChunkIndex();
    for (const o of await this.storage.list(INDEX_PREFIX)) {
      let entries: IndexEntry[];
      try {
        entries = decodeIndex(await this.getObject(o.key), `index ${o.key}`);
      } catch (err) {
        if (!isDamage(err)) {
          throw err;
        }
        index.unreadable.push({ key: o.key, error: err.message });
        continue;
      }
      for (const entry of entries) {
        if (!forWriting || !condemned.has(entry.pack)) {
          index.add(entry, preferLive);
        }
      }
    }
    return index;
  }

  /** Reads, decrypts and verifies one chunk. */
  async readChunk(id: string, location: ChunkLocation): Promise<Buffer> {
    const blob = await this.storage.getRange(packKey(location.pack), location.offset, location.length);
    return decodeChunk(this.keys, Buffer.from(id, 'hex'), blob);
  }

  get host(): string {
    return hostname();
  }
}

/** An object that is damaged or gone, as opposed to storage that cannot be reached (which still throws). */
function isDamage(err: unknown): err is Error {
  return err instanceof RepositoryError || err instanceof ObjectNotFoundError;
}
