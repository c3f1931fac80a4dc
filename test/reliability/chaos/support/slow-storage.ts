/**
 * Real storage behind a slow link: every request waits `latencyMs` before it reaches the wrapped
 * storage, and writes also wait for their size at `bytesPerSecond`, as a saturated WAN or an
 * overloaded NAS would make them.
 */
import type { ObjectInfo, PutOptions, Storage } from '../../../../controller/storage/storage.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class SlowStorage implements Storage {
  requests = 0;

  constructor(
    private readonly inner: Storage,
    private readonly latencyMs: number,
    private readonly bytesPerSecond: number,
  ) {}

  get url(): string {
    return this.inner.url;
  }
  get locking(): boolean {
    return this.inner.locking;
  }

  private async delay(bytes = 0): Promise<void> {
    this.requests++;
    await sleep(this.latencyMs + (bytes * 1000) / this.bytesPerSecond);
  }

  async put(key: string, data: Uint8Array | readonly Uint8Array[], options?: PutOptions): Promise<void> {
    const size = data instanceof Uint8Array ? data.length : data.reduce((n, part) => n + part.length, 0);
    await this.delay(size);
    await this.inner.put(key, data, options);
  }
  async create(key: string, data: Uint8Array, options?: PutOptions): Promise<void> {
    await this.delay(data.length);
    await this.inner.create(key, data, options);
  }
  async get(key: string): Promise<Buffer> {
    await this.delay();
    return this.inner.get(key);
  }
  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    await this.delay();
    return this.inner.getRange(key, offset, length);
  }
  async stat(key: string): Promise<ObjectInfo | undefined> {
    await this.delay();
    return this.inner.stat(key);
  }
  async list(prefix: string): Promise<ObjectInfo[]> {
    await this.delay();
    return this.inner.list(prefix);
  }
  async delete(key: string): Promise<void> {
    await this.delay();
    await this.inner.delete(key);
  }
}
