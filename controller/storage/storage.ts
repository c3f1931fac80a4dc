/**
 * Where a repository's objects live. Keys are '/'-separated paths such as `packs/ab/abcd…`.
 * Every backend (filesystem, S3, Azure Blob) keeps these promises, which the repository's crash
 * safety rests on:
 * - `put` and `create` are atomic and durable: once they resolve the whole object survives a crash,
 *   and no reader ever sees part of an object;
 * - objects are written once and never modified, only deleted (by garbage collection);
 * - `list` sees every object whose `put` resolved before it started (read-after-write), in key order;
 * - a write with `retainUntil` is locked until then, or fails: it is never silently left unlocked.
 */
import { NamedError } from '../common/named-error.js';
import type { StorageLocation } from './location.js';

export interface ObjectInfo {
  key: string;
  size: number;
  /** When the object was written: garbage collection's grace period counts from here. */
  modified: Date;
  /** Until when the object cannot be deleted, where the backend reports it (`stat`; `list` may not). */
  retainUntil?: Date;
}

export interface PutOptions {
  /**
   * Lock the object against deletion and overwriting until this time (S3 Object Lock retention,
   * Azure version-level immutability). Only on storage whose `locking` is true; elsewhere the
   * write fails with LockingUnsupportedError.
   */
  retainUntil?: Date;
}

export interface Storage {
  /** The repository URL this storage was opened from, for messages; never holds credentials. */
  readonly url: string;
  /**
   * How to open this storage again elsewhere in the process (a restore's worker threads), with
   * credentials: never log it. Absent for a storage that cannot be reopened that way.
   */
  readonly location?: StorageLocation;
  /** Whether this storage can lock objects (`PutOptions.retainUntil`). */
  readonly locking: boolean;
  put(key: string, data: Uint8Array | readonly Uint8Array[], options?: PutOptions): Promise<void>;
  /** Like `put`, but fails with ObjectExistsError when the key exists: for objects only one writer may create. */
  create(key: string, data: Uint8Array, options?: PutOptions): Promise<void>;
  /** Throws ObjectNotFoundError when absent. */
  get(key: string): Promise<Buffer>;
  getRange(key: string, offset: number, length: number): Promise<Buffer>;
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** Every object whose key starts with `prefix` (which ends with '/'), in key order. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /**
   * Removes an object; removing one that is already gone is not an error. A locked object is
   * refused with ObjectLockedError.
   */
  delete(key: string): Promise<void>;
}

export class StorageError extends NamedError {}

export class ObjectNotFoundError extends StorageError {
  constructor(
    readonly url: string,
    readonly key: string,
  ) {
    super(`${url}: object ${key} does not exist`);
  }
}

export class ObjectExistsError extends StorageError {
  constructor(
    readonly url: string,
    readonly key: string,
  ) {
    super(`${url}: object ${key} already exists`);
  }
}

/** The object is locked (retention or immutability policy) and cannot be deleted yet. */
export class ObjectLockedError extends StorageError {
  constructor(
    readonly url: string,
    readonly key: string,
    readonly retainUntil?: Date,
  ) {
    super(
      `${url}: object ${key} is locked ${retainUntil ? `until ${retainUntil.toISOString()}` : 'by a retention policy'} and cannot be deleted before then`,
    );
  }
}

/** A write asked for a lock (`retainUntil`) that this storage cannot set. */
export class LockingUnsupportedError extends StorageError {}

/** The server refused the credentials, or they lack a permission the repository needs. */
export class StorageAccessDeniedError extends StorageError {}

/** The bucket or container the storage names does not exist. */
export class StorageLocationNotFoundError extends StorageError {}

/** The server could not be reached, or kept failing after retries. */
export class StorageUnreachableError extends StorageError {}

/** The storage ran out of space; nothing written by the failed call is visible. */
export class StorageFullError extends StorageError {}

/** Keys are plain relative paths: no empty, '.' or '..' segments, so no backend can escape its root. */
export function assertValidKey(key: string): void {
  const segments = key.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..' || !/^[A-Za-z0-9._-]+$/.test(s))) {
    throw new StorageError(`invalid object key '${key}'`);
  }
}
