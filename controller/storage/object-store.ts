/**
 * What the S3 and Azure Blob backends share: pure helpers, and the steps of a call that are the
 * same whatever the service (the service's own request is passed in).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ObjectLockedError,
  ObjectNotFoundError,
  StorageError,
  StorageUnreachableError,
  assertValidKey,
  type ObjectInfo,
  type PutOptions,
  type Storage,
} from './storage.js';

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'REQUEST_SEND_ERROR',
]);

/** A failure to talk to the server at all (refused, reset, timed out, no such host). */
export function isNetworkError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) {
    return false;
  }
  const e = err as { code?: unknown; name?: unknown; cause?: unknown };
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) {
    return true;
  }
  if (e.name === 'TimeoutError' || e.name === 'AbortError') {
    return true;
  }
  return e.cause !== undefined && e.cause !== err && isNetworkError(e.cause);
}

/**
 * Runs a whole download again when its connection breaks. The SDKs retry a request until its
 * response headers arrive; a body cut off after that surfaces as an error they do not retry.
 */
export async function retryBrokenDownload<T>(download: () => Promise<T>, attempts = 4): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await download();
    } catch (err) {
      if (attempt >= attempts || !isNetworkError(err)) {
        throw err;
      }
      await sleep(100 * 2 ** attempt);
    }
  }
}

/**
 * A server's or SDK's message with anything that looks like a credential blanked out: messages
 * reach conditions, Events and logs, and some quote a signed URL or a connection string.
 */
export function redact(message: string | undefined): string {
  return (message ?? '').replace(
    /\b(sig|signature|accountkey|sharedaccesssignature|x-amz-signature|x-amz-credential|x-amz-security-token)=[^&;\s"']*/gi,
    '$1=REDACTED',
  );
}

export function sizeOf(data: Uint8Array | readonly Uint8Array[]): number {
  return data instanceof Uint8Array ? data.length : data.reduce((n, p) => n + p.length, 0);
}

/** One buffer for an upload: object stores need the length and a checksum up front. */
export function concatParts(data: Uint8Array | readonly Uint8Array[]): Buffer {
  if (data instanceof Uint8Array) {
    return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }
  return Buffer.concat(data);
}

/** The order `Storage.list` promises, whatever order the server's pages came in. */
export function keySorted(infos: ObjectInfo[]): ObjectInfo[] {
  return infos.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * How objects go up: up to `singleUpTo` bytes in one request, larger ones in parts (S3 multipart,
 * Azure staged blocks) of `partSize`.
 */
export interface Uploads {
  singleUpTo: number;
  partSize: number;
}

const defaultUploads: Uploads = { singleUpTo: 64 * 1024 * 1024, partSize: 16 * 1024 * 1024 };

/** The keys of a repository under a key (or blob name) prefix in a bucket or container. */
class KeyPrefix {
  /** What the service's own names start with; '' without a prefix. */
  readonly base: string;

  constructor(prefix: string | undefined) {
    this.base = prefix ? `${prefix}/` : '';
  }

  /** The service's name for a repository key, once the key is known to be valid. */
  nameOf(key: string): string {
    assertValidKey(key);
    return this.base + key;
  }

  /** The repository key of a name the service listed. */
  keyOf(name: string): string {
    return name.slice(this.base.length);
  }
}

/**
 * A question about the bucket or container (does it lock?) asked once: the answer is kept while
 * it is yes, and a failure is forgotten so that the next caller asks again.
 */
class AskedOnce {
  private answer?: Promise<void>;

  /** The kept answer, or `ask`'s. */
  get(ask: () => Promise<void>): Promise<void> {
    if (!this.answer) {
      const answer = ask();
      this.answer = answer;
      answer.catch(() => {
        if (this.answer === answer) {
          this.answer = undefined;
        }
      });
    }
    return this.answer;
  }
}

/**
 * Storage in an object store's bucket or container under a key prefix: what S3 and Azure Blob do
 * alike. A backend adds its SDK's requests and says what its SDK's errors mean.
 */
export abstract class ObjectStore implements Storage {
  readonly url: string;
  /** Where the repository's keys stand among the service's names. */
  protected readonly names: KeyPrefix;
  /** Whether the bucket or container really locks, asked before the first locked write. */
  protected readonly canLock = new AskedOnce();

  protected readonly uploads: Uploads;

  constructor(
    location: { url: string; prefix?: string | undefined },
    readonly locking: boolean,
    uploads: { [K in keyof Uploads]?: number | undefined },
  ) {
    this.url = location.url;
    this.names = new KeyPrefix(location.prefix);
    this.uploads = {
      singleUpTo: uploads.singleUpTo ?? defaultUploads.singleUpTo,
      partSize: uploads.partSize ?? defaultUploads.partSize,
    };
  }

  abstract put(key: string, data: Uint8Array | readonly Uint8Array[], options?: PutOptions): Promise<void>;
  abstract create(key: string, data: Uint8Array, options?: PutOptions): Promise<void>;
  abstract get(key: string): Promise<Buffer>;
  abstract list(prefix: string): Promise<ObjectInfo[]>;
  abstract delete(key: string): Promise<void>;

  /** An SDK error as a StorageError that says what to fix; never holds credentials. */
  protected abstract translate(err: unknown, key: string, action: string): Error;
  /** The HTTP status an SDK error carries, where it has one. */
  protected abstract statusOf(err: unknown): number | undefined;
  /** One request for an object's size, time and lock; the SDK's error where it is absent. */
  protected abstract head(key: string): Promise<ObjectInfo>;
  /** One request for a range of an object; the answer's length is the caller's to check. */
  protected abstract readBytes(key: string, offset: number, length: number): Promise<Buffer>;

  /**
   * A zero-length range only checks that the object exists, a range that starts past the end
   * (HTTP 416) reads as nothing, and an answer shorter than asked is an error rather than
   * silently short data.
   */
  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    if (length === 0) {
      if (!(await this.stat(key))) {
        throw new ObjectNotFoundError(this.url, key);
      }
      return Buffer.alloc(0);
    }
    let data: Buffer;
    try {
      data = await this.readBytes(key, offset, length);
    } catch (err) {
      if (this.statusOf(err) !== 416) {
        throw this.translate(err, key, 'reading');
      }
      data = Buffer.alloc(0);
    }
    if (data.length !== length) {
      throw new StorageError(`${this.url}: object ${key} ends before byte ${offset + length} (truncated?)`);
    }
    return data;
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      return await this.head(key);
    } catch (err) {
      const e = this.translate(err, key, 'inspecting');
      if (e instanceof ObjectNotFoundError) {
        return undefined;
      }
      throw e;
    }
  }

  /** A delete the service refused because the object is locked, with until when where it says. */
  protected async locked(key: string): Promise<ObjectLockedError> {
    return new ObjectLockedError(this.url, key, (await this.stat(key).catch(() => undefined))?.retainUntil);
  }

  /**
   * The end of every backend's error translation: a service it cannot reach or that keeps
   * failing (`fix` says what to check), else the service's own words.
   */
  protected unreachableOrFailed(
    err: unknown,
    what: { key: string; action: string; where: string; fix: string },
    answer: { code: string; message: string | undefined },
  ): StorageError {
    const { key, action, where, fix } = what;
    const { code, message } = answer;
    const status = this.statusOf(err);
    if (isNetworkError(err) || (status !== undefined && status >= 500)) {
      const why = status !== undefined ? `HTTP ${status} ${code}` : redact(message) || code;
      return new StorageUnreachableError(
        `${this.url}: ${action} ${key} failed after retries: ${where} is unreachable or failing (${why}); ${fix}`,
      );
    }
    return new StorageError(`${this.url}: ${action} ${key} failed: ${code}: ${redact(message)}`.trim());
  }
}
