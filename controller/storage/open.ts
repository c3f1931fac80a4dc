import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FilesystemStorage } from './filesystem.js';
import { StorageError, type Storage } from './storage.js';

/**
 * Opens storage from a repository URL. `file:///path` (or a plain path) is the filesystem backend,
 * which also serves SMB shares mounted on the host; object stores plug in here by scheme.
 */
export function openStorage(url: string): Storage {
  if (url.startsWith('file://')) {
    return new FilesystemStorage(fileURLToPath(url), url);
  }
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    const root = resolve(url);
    return new FilesystemStorage(root, `file://${root}`);
  }
  throw new StorageError(`unsupported repository URL '${url}': only file:// is available so far`);
}
