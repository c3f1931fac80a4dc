import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BackupRepository } from '../api/index.js';
import type { KubeRest } from '../kube/rest.js';
import { Repository } from '../repository/repository.js';
import { ObjectNotFoundError } from '../storage/storage.js';
import { openStorage } from '../storage/open.js';
import { UnsupportedFormatError, WrongKeyError } from '../repository/errors.js';
import { CONFIG_KEY } from '../repository/layout.js';

/** Why a BackupRepository cannot be used, in words for its status and for Events. */
export class RepositoryAccessError extends Error {
  constructor(
    readonly reason:
      'SecretNotFound' | 'SecretInvalid' | 'StorageUnsupported' | 'StorageUnavailable' | 'WrongKey' | 'Empty',
    message: string,
  ) {
    super(message);
    this.name = 'RepositoryAccessError';
  }
}

/** The storage URL a BackupRepository spec describes. */
export function storageUrlOf(repo: BackupRepository): string {
  const { spec } = repo;
  if (spec.type === 'Filesystem' && spec.filesystem) {
    // A share path as Windows agents write it means nothing to a Linux process (it would become a
    // relative folder): each process needs a path that is absolute where it runs.
    if (!isAbsolute(spec.filesystem.path)) {
      throw new RepositoryAccessError(
        'StorageUnavailable',
        `path ${spec.filesystem.path} is not an absolute path on this ${process.platform} host; mount the share here and use that path`,
      );
    }
    return pathToFileURL(spec.filesystem.path).href;
  }
  throw new RepositoryAccessError(
    'StorageUnsupported',
    `repository type ${spec.type} is not available in this release yet; use type Filesystem`,
  );
}

/** Reads the key material from the Secret the repository names (its key "password"). */
export async function readRepositoryKey(rest: KubeRest, repo: BackupRepository): Promise<Buffer> {
  const namespace = repo.metadata.namespace ?? 'default';
  const secretName = repo.spec.encryptionKeySecret;
  let secret: { data?: Record<string, string> };
  try {
    secret = await rest.request(
      'GET',
      `/api/v1/namespaces/${namespace}/secrets/${encodeURIComponent(secretName)}`,
    );
  } catch {
    throw new RepositoryAccessError(
      'SecretNotFound',
      `Secret ${namespace}/${secretName} (spec.encryptionKeySecret) cannot be read; create it with a key "password"`,
    );
  }
  const encoded = secret.data?.password;
  if (!encoded) {
    throw new RepositoryAccessError(
      'SecretInvalid',
      `Secret ${namespace}/${secretName} has no key "password"`,
    );
  }
  return Buffer.from(encoded, 'base64');
}

/**
 * Opens the repository a BackupRepository describes. With `create` it is created when the storage
 * is empty (the first writer initializes it; the format makes concurrent first writers safe to
 * retry); with `twinOf` it is created as an offsite twin of that repository.
 */
export async function openRepository(
  rest: KubeRest,
  repo: BackupRepository,
  { create = false, twinOf }: { create?: boolean; twinOf?: Repository } = {},
): Promise<Repository> {
  const key = await readRepositoryKey(rest, repo);
  const storage = openStorage(storageUrlOf(repo));
  try {
    return await Repository.open(storage, key);
  } catch (err) {
    if (err instanceof UnsupportedFormatError && !(await storage.stat(CONFIG_KEY))) {
      if (twinOf || create) {
        try {
          return await (twinOf ? Repository.initCopyOf(storage, key, twinOf) : Repository.init(storage, key));
        } catch (initError) {
          // Another first writer (an agent's backup, a copy worker) created it a moment earlier.
          if (await storage.stat(CONFIG_KEY)) {
            return Repository.open(storage, key);
          }
          throw initError;
        }
      }
      throw new RepositoryAccessError(
        'Empty',
        `${storage.url} is reachable and holds no repository yet; the first backup (or, for an offsite repository, the first copy) creates it`,
      );
    }
    if (err instanceof WrongKeyError) {
      throw new RepositoryAccessError(
        'WrongKey',
        `${storage.url}: ${err.message}; check spec.encryptionKeySecret`,
      );
    }
    if (err instanceof ObjectNotFoundError) {
      throw new RepositoryAccessError('StorageUnavailable', `${storage.url}: ${err.message}`);
    }
    throw err;
  }
}
