/**
 * A recovery point's disk read in place from the repository, for item-level recovery: only the
 * chunks a read touches are fetched, each verified against its id, with a small LRU cache so
 * parsers that re-read nearby structures (MFT, index blocks) do not fetch twice.
 */
import type { ByteSource } from '../common/byte-source.js';
import type { ChunkIndex } from '../repository/chunk-index.js';
import { IntegrityError } from '../repository/errors.js';
import type { Manifest } from '../repository/manifest.js';
import type { Repository } from '../repository/repository.js';

export interface StoredDisk extends ByteSource {
  readonly manifest: Manifest;
  /** Sealed bytes fetched from storage so far: what a restore of this source cost. */
  readonly bytesFetched: number;
}

export interface StoredDiskOptions {
  /** Chunks kept decrypted in memory (default 16, i.e. 16 MiB at the default chunk size). */
  cacheChunks?: number;
  /** An index loaded earlier, to share between many opened disks. */
  index?: ChunkIndex;
}

/**
 * Opens the disk of recovery point `manifestId` for random reads straight from the repository.
 * Reads past the end reject with RangeError; damaged chunks reject with IntegrityError.
 */
export async function openStoredDisk(
  repo: Repository,
  manifestId: string,
  options: StoredDiskOptions = {},
): Promise<StoredDisk> {
  const manifest = await repo.loadManifest(manifestId);
  const index = options.index ?? (await repo.loadIndex());
  return new RepositoryDisk(repo, manifest, index, options.cacheChunks ?? 16);
}

class RepositoryDisk implements StoredDisk {
  bytesFetched = 0;
  /** Insertion-ordered: the first key is the least recently used. */
  private readonly cache = new Map<number, Promise<Buffer>>();

  constructor(
    private readonly repo: Repository,
    readonly manifest: Manifest,
    private readonly index: ChunkIndex,
    private readonly cacheChunks: number,
  ) {}

  get size(): number {
    return this.manifest.disk.virtualSize;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > this.size
    ) {
      throw new RangeError(`read ${offset}+${length} lies outside a disk of ${this.size} bytes`);
    }
    const out = Buffer.alloc(length);
    const { chunkSize } = this.manifest;
    for (let at = offset; at < offset + length;) {
      const n = Math.floor(at / chunkSize);
      const within = at - n * chunkSize;
      const take = Math.min(chunkSize - within, offset + length - at);
      const chunk = await this.chunk(n);
      chunk?.copy(out, at - offset, within, within + take);
      at += take;
    }
    return out;
  }

  /** The chunk's plaintext, or undefined for a zero chunk (the output is already zeroed). */
  private async chunk(n: number): Promise<Buffer | undefined> {
    const id = this.manifest.chunks[n];
    if (!id) {
      return undefined;
    }
    const cached = this.cache.get(n);
    if (cached) {
      this.cache.delete(n);
      this.cache.set(n, cached);
      return cached;
    }
    const location = this.index.get(id);
    if (!location) {
      throw new IntegrityError(this.index.whyMissing(id, this.manifest.id));
    }
    const loading = this.repo.readChunk(id, location);
    this.cache.set(n, loading);
    loading.then(
      () => {
        this.bytesFetched += location.length;
      },
      () => this.cache.delete(n),
    );
    while (this.cache.size > this.cacheChunks) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) {
        break;
      }
      this.cache.delete(oldest);
    }
    return loading;
  }
}
