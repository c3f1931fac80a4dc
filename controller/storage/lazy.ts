/**
 * An object-store backend whose SDK is loaded on first use. The AWS and Azure SDKs are about 400
 * modules: loaded eagerly, every process that opens any repository (a backup to a local folder
 * included, and each restore worker thread) would read and compile them at start, ~0.3-0.5 s
 * with a cold page cache.
 */
import type { StorageLocation } from './location.js';
import type { ObjectInfo, PutOptions, Storage } from './storage.js';

export class LazyStorage implements Storage {
  readonly url: string;
  private backend?: Promise<Storage>;

  constructor(
    readonly location: StorageLocation,
    /** Known from the location without the SDK: whether the backend will lock objects. */
    readonly locking: boolean,
    private readonly load: () => Promise<Storage>,
  ) {
    this.url = location.url;
  }

  private open(): Promise<Storage> {
    return (this.backend ??= this.load());
  }

  async put(key: string, data: Uint8Array | readonly Uint8Array[], options?: PutOptions): Promise<void> {
    return (await this.open()).put(key, data, options);
  }
  async create(key: string, data: Uint8Array, options?: PutOptions): Promise<void> {
    return (await this.open()).create(key, data, options);
  }
  async get(key: string): Promise<Buffer> {
    return (await this.open()).get(key);
  }
  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    return (await this.open()).getRange(key, offset, length);
  }
  async stat(key: string): Promise<ObjectInfo | undefined> {
    return (await this.open()).stat(key);
  }
  async list(prefix: string): Promise<ObjectInfo[]> {
    return (await this.open()).list(prefix);
  }
  async delete(key: string): Promise<void> {
    return (await this.open()).delete(key);
  }
}
