/**
 * Storage on a filesystem path: a local disk or an SMB share mounted on the host. Atomicity comes
 * from writing a temporary file under `tmp/`, syncing it, then renaming (or linking, for `create`)
 * it into place and syncing the directory.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { writeParts } from '../common/write-parts.js';
import type { FilesystemLocation } from './location.js';
import {
  LockingUnsupportedError,
  ObjectExistsError,
  ObjectNotFoundError,
  StorageError,
  StorageFullError,
  assertValidKey,
  type ObjectInfo,
  type PutOptions,
  type Storage,
} from './storage.js';

/** Temporary files of writes in progress; garbage collection removes old ones left by killed writers. */
export const TEMP_PREFIX = 'tmp/';

function errno(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

export class FilesystemStorage implements Storage {
  /** A filesystem has no retention locks that an administrator could not lift: none are promised. */
  readonly locking = false;

  constructor(
    readonly root: string,
    readonly url = `file://${root}`,
  ) {}

  get location(): FilesystemLocation {
    return { type: 'filesystem', url: this.url, root: this.root };
  }

  private refuseLock(key: string, options: PutOptions | undefined): void {
    if (options?.retainUntil) {
      throw new LockingUnsupportedError(
        `${this.url}: cannot lock ${key} until ${options.retainUntil.toISOString()}: a filesystem repository cannot lock objects; use an S3 bucket with Object Lock or an Azure container with version-level immutability`,
      );
    }
  }

  private path(key: string): string {
    assertValidKey(key);
    return join(this.root, ...key.split('/'));
  }

  private translate(err: unknown, key: string, action: string): Error {
    const code = errno(err);
    if (code === 'ENOENT') {
      return new ObjectNotFoundError(this.url, key);
    }
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      return new StorageFullError(`${this.url}: storage full (no space left) while ${action} ${key}`);
    }
    const message = err instanceof Error ? err.message : String(err);
    return new StorageError(`${this.url}: ${action} ${key} failed: ${message}`);
  }

  /** Writes a synced temporary file and returns its path; removes it again on failure. */
  private async writeTemp(key: string, data: Uint8Array | readonly Uint8Array[]): Promise<string> {
    const dir = join(this.root, TEMP_PREFIX);
    const temp = join(dir, `${randomBytes(12).toString('hex')}.tmp`);
    try {
      await mkdir(dir, { recursive: true });
      const handle = await open(temp, 'wx', 0o600);
      try {
        await writeParts(handle, data instanceof Uint8Array ? [data] : data, 0);
        await handle.sync();
      } finally {
        await handle.close();
      }
      return temp;
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw this.translate(err, key, 'writing');
    }
  }

  private async syncDir(dir: string): Promise<void> {
    // Windows cannot open a directory to sync it; NTFS and SMB journal the rename themselves.
    if (process.platform === 'win32') {
      return;
    }
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async put(key: string, data: Uint8Array | readonly Uint8Array[], options?: PutOptions): Promise<void> {
    const target = this.path(key);
    this.refuseLock(key, options);
    const temp = await this.writeTemp(key, data);
    try {
      await mkdir(dirname(target), { recursive: true });
      await rename(temp, target);
      await this.syncDir(dirname(target));
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw this.translate(err, key, 'writing');
    }
  }

  async create(key: string, data: Uint8Array, options?: PutOptions): Promise<void> {
    const target = this.path(key);
    this.refuseLock(key, options);
    const temp = await this.writeTemp(key, data);
    try {
      await mkdir(dirname(target), { recursive: true });
      await link(temp, target);
      await this.syncDir(dirname(target));
    } catch (err) {
      throw errno(err) === 'EEXIST'
        ? new ObjectExistsError(this.url, key)
        : this.translate(err, key, 'creating');
    } finally {
      await unlink(temp).catch(() => undefined);
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.path(key));
    } catch (err) {
      throw this.translate(err, key, 'reading');
    }
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    let handle;
    try {
      handle = await open(this.path(key), 'r');
      const buf = Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(buf, done, length - done, offset + done);
        if (bytesRead === 0) {
          throw new StorageError(
            `${this.url}: object ${key} ends before byte ${offset + length} (truncated?)`,
          );
        }
        done += bytesRead;
      }
      return buf;
    } catch (err) {
      throw err instanceof StorageError ? err : this.translate(err, key, 'reading');
    } finally {
      await handle?.close();
    }
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const s = await stat(this.path(key));
      return { key, size: s.size, modified: s.mtime };
    } catch (err) {
      if (errno(err) === 'ENOENT') {
        return undefined;
      }
      throw this.translate(err, key, 'inspecting');
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const base = join(this.root, ...prefix.split('/').filter((s) => s !== ''));
    let names: string[];
    try {
      names = await readdir(base, { recursive: true });
    } catch (err) {
      if (errno(err) === 'ENOENT') {
        return [];
      }
      throw this.translate(err, prefix, 'listing');
    }
    const infos: ObjectInfo[] = [];
    for (const name of names.sort()) {
      const full = join(base, name);
      const s = await stat(full).catch(() => undefined);
      if (s?.isFile()) {
        infos.push({ key: relative(this.root, full).split(sep).join('/'), size: s.size, modified: s.mtime });
      }
    }
    return infos;
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.path(key));
    } catch (err) {
      if (errno(err) !== 'ENOENT') {
        throw this.translate(err, key, 'deleting');
      }
    }
  }
}
