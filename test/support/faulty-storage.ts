/** Real storage that fails on cue: the process dying or the link dropping in the middle of a write. */
import type { ObjectInfo, PutOptions, Storage } from '../../controller/storage/storage.js';
import { StorageError } from '../../controller/storage/storage.js';
import type { StorageLocation } from '../../controller/storage/location.js';

export class FaultyStorage implements Storage {
  /** Writes still allowed before every further write fails; Infinity for none failing. */
  writesLeft = Infinity;
  writes = 0;

  constructor(private readonly inner: Storage) {}

  get url(): string {
    return this.inner.url;
  }
  get locking(): boolean {
    return this.inner.locking;
  }
  /** Restore workers read through the inner storage: faults here are about writes. */
  get location(): StorageLocation | undefined {
    return this.inner.location;
  }

  private spend(key: string): void {
    if (this.writesLeft <= 0) {
      throw new StorageError(`${this.url}: connection lost while writing ${key}`);
    }
    this.writesLeft--;
    this.writes++;
  }

  async put(key: string, data: Uint8Array | readonly Uint8Array[], options?: PutOptions): Promise<void> {
    this.spend(key);
    await this.inner.put(key, data, options);
  }
  async create(key: string, data: Uint8Array, options?: PutOptions): Promise<void> {
    this.spend(key);
    await this.inner.create(key, data, options);
  }
  get(key: string): Promise<Buffer> {
    return this.inner.get(key);
  }
  getRange(key: string, offset: number, length: number): Promise<Buffer> {
    return this.inner.getRange(key, offset, length);
  }
  stat(key: string): Promise<ObjectInfo | undefined> {
    return this.inner.stat(key);
  }
  list(prefix: string): Promise<ObjectInfo[]> {
    return this.inner.list(prefix);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
}
