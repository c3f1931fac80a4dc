import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BackupRepository } from '../api/index.js';
import type { KubeRest } from '../kube/rest.js';
import { Repository } from '../repository/repository.js';
import {
  azureFromConnectionString,
  normalizePrefix,
  sharedKeyFor,
  type AzureCredential,
  type StorageLocation,
} from '../storage/location.js';
import { openLocation } from '../storage/open.js';
import {
  ObjectNotFoundError,
  StorageAccessDeniedError,
  StorageError,
  StorageLocationNotFoundError,
  StorageUnreachableError,
  type Storage,
} from '../storage/storage.js';
import { UnsupportedFormatError, WrongKeyError } from '../repository/errors.js';
import { CONFIG_KEY } from '../repository/layout.js';

export type RepositoryAccessReason =
  | 'SecretNotFound'
  | 'SecretInvalid'
  | 'StorageUnsupported'
  | 'StorageUnavailable'
  | 'WrongKey'
  /** The storage is reachable and holds no repository yet. */
  | 'Empty'
  /** The object store refused the credentials from spec.*.credentialsSecret. */
  | 'CredentialsRejected'
  /** The bucket or container does not exist. */
  | 'StorageNotFound'
  /** The object store cannot be reached, or keeps failing. */
  | 'StorageUnreachable';

/** Why a BackupRepository cannot be used, in words for its status and for Events. */
export class RepositoryAccessError extends Error {
  constructor(
    readonly reason: RepositoryAccessReason,
    message: string,
  ) {
    super(message);
    this.name = 'RepositoryAccessError';
  }
}

/** Reads a Secret in the repository's namespace, its values decoded; `setting` names the field that points at it. */
async function readSecret(
  rest: KubeRest,
  repo: BackupRepository,
  secretName: string,
  setting: string,
  wanted: string,
): Promise<Map<string, Buffer>> {
  const namespace = repo.metadata.namespace ?? 'default';
  let secret: { data?: Record<string, string> };
  try {
    secret = await rest.request(
      'GET',
      `/api/v1/namespaces/${namespace}/secrets/${encodeURIComponent(secretName)}`,
    );
  } catch {
    throw new RepositoryAccessError(
      'SecretNotFound',
      `Secret ${namespace}/${secretName} (${setting}) cannot be read; create it with ${wanted}`,
    );
  }
  return new Map(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
}

/** Reads the key material from the Secret the repository names (its key "password"). */
export async function readRepositoryKey(rest: KubeRest, repo: BackupRepository): Promise<Buffer> {
  const secretName = repo.spec.encryptionKeySecret;
  const secret = await readSecret(rest, repo, secretName, 'spec.encryptionKeySecret', 'a key "password"');
  const key = secret.get('password');
  if (!key || key.length === 0) {
    throw invalidSecret(repo, secretName, 'has no key "password"');
  }
  return key;
}

function invalidSecret(repo: BackupRepository, secretName: string, message: string): RepositoryAccessError {
  return new RepositoryAccessError(
    'SecretInvalid',
    `Secret ${repo.metadata.namespace ?? 'default'}/${secretName} ${message}`,
  );
}

function filesystemLocation(repo: BackupRepository, path: string): StorageLocation {
  // A share path as Windows agents write it means nothing to a Linux process (it would become a
  // relative folder): each process needs a path that is absolute where it runs.
  if (!isAbsolute(path)) {
    throw new RepositoryAccessError(
      'StorageUnavailable',
      `path ${path} is not an absolute path on this ${process.platform} host; mount the share here and use that path`,
    );
  }
  const url = pathToFileURL(path).href;
  return { type: 'filesystem', url, root: path };
}

function prefixOf(prefix: string | undefined, setting: string): string {
  try {
    return normalizePrefix(prefix, setting);
  } catch (err) {
    throw new RepositoryAccessError('StorageUnavailable', (err as Error).message);
  }
}

/**
 * Where a BackupRepository's data lives, credentials included, from its spec and the Secret
 * its spec.s3.credentialsSecret or spec.azureBlob.credentialsSecret names.
 */
export async function repositoryLocation(rest: KubeRest, repo: BackupRepository): Promise<StorageLocation> {
  const { spec } = repo;
  if (spec.type === 'Filesystem' && spec.filesystem) {
    return filesystemLocation(repo, spec.filesystem.path);
  }
  if (spec.type === 'S3' && spec.s3) {
    const s3 = spec.s3;
    const secret = await readSecret(
      rest,
      repo,
      s3.credentialsSecret,
      'spec.s3.credentialsSecret',
      'keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY',
    );
    const accessKeyId = secret.get('AWS_ACCESS_KEY_ID')?.toString('utf8').trim();
    const secretAccessKey = secret.get('AWS_SECRET_ACCESS_KEY')?.toString('utf8').trim();
    if (!accessKeyId || !secretAccessKey) {
      throw invalidSecret(
        repo,
        s3.credentialsSecret,
        'needs both keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY',
      );
    }
    const sessionToken = secret.get('AWS_SESSION_TOKEN')?.toString('utf8').trim();
    const prefix = prefixOf(s3.prefix, 'spec.s3.prefix');
    const query = [
      s3.endpoint ? `endpoint=${s3.endpoint}` : '',
      s3.region ? `region=${s3.region}` : '',
      s3.forcePathStyle ? 'pathStyle=true' : '',
      s3.objectLock ? 'objectLock=true' : '',
    ].filter((p) => p !== '');
    return {
      type: 's3',
      url: `s3://${s3.bucket}${prefix ? `/${prefix}` : ''}${query.length > 0 ? `?${query.join('&')}` : ''}`,
      bucket: s3.bucket,
      prefix,
      endpoint: s3.endpoint?.replace(/\/+$/, ''),
      region: s3.region ?? 'us-east-1',
      forcePathStyle: s3.forcePathStyle ?? false,
      credentials: {
        accessKeyId,
        secretAccessKey,
        ...(sessionToken ? { sessionToken } : {}),
      },
      objectLock: s3.objectLock ?? false,
    };
  }
  if (spec.type === 'AzureBlob' && spec.azureBlob) {
    const az = spec.azureBlob;
    const secret = await readSecret(
      rest,
      repo,
      az.credentialsSecret,
      'spec.azureBlob.credentialsSecret',
      'one of the keys AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_TOKEN',
    );
    const accountUrl = az.accountUrl.replace(/\/+$/, '');
    let credential: AzureCredential;
    try {
      const connectionString = secret.get('AZURE_STORAGE_CONNECTION_STRING')?.toString('utf8').trim();
      const accountKey = secret.get('AZURE_STORAGE_ACCOUNT_KEY')?.toString('utf8').trim();
      const sas = secret.get('AZURE_STORAGE_SAS_TOKEN')?.toString('utf8').trim();
      if (connectionString) {
        credential = azureFromConnectionString(
          connectionString,
          'AZURE_STORAGE_CONNECTION_STRING',
        ).credential;
      } else if (accountKey) {
        credential = sharedKeyFor(accountUrl, accountKey, 'AZURE_STORAGE_ACCOUNT_KEY');
      } else if (sas) {
        credential = { kind: 'sas', token: sas.replace(/^\?/, '') };
      } else {
        throw new StorageError(
          'has none of the keys AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_TOKEN',
        );
      }
    } catch (err) {
      throw invalidSecret(repo, az.credentialsSecret, (err as Error).message);
    }
    const prefix = prefixOf(az.prefix, 'spec.azureBlob.prefix');
    return {
      type: 'azureBlob',
      url: `azblob://${az.container}${prefix ? `/${prefix}` : ''}?accountUrl=${accountUrl}${az.immutability ? '&immutability=true' : ''}`,
      accountUrl,
      container: az.container,
      prefix,
      credential,
      immutability: az.immutability ?? false,
    };
  }
  throw new RepositoryAccessError(
    'StorageUnsupported',
    `repository type ${spec.type} needs its block spec.${spec.type === 'AzureBlob' ? 'azureBlob' : spec.type.toLowerCase()}`,
  );
}

/** A storage failure as the reason a BackupRepository shows; other errors pass through. */
export function accessErrorOf(err: unknown, storage: { url: string }): unknown {
  if (err instanceof StorageAccessDeniedError) {
    return new RepositoryAccessError('CredentialsRejected', err.message);
  }
  if (err instanceof StorageLocationNotFoundError) {
    return new RepositoryAccessError('StorageNotFound', `${storage.url}: ${err.message}`);
  }
  if (err instanceof StorageUnreachableError) {
    return new RepositoryAccessError('StorageUnreachable', err.message);
  }
  if (err instanceof WrongKeyError) {
    return new RepositoryAccessError(
      'WrongKey',
      `${storage.url}: ${err.message}; check spec.encryptionKeySecret`,
    );
  }
  if (err instanceof ObjectNotFoundError) {
    return new RepositoryAccessError('StorageUnavailable', `${storage.url}: ${err.message}`);
  }
  return err;
}

/**
 * Opens the storage a BackupRepository describes (filesystem, S3 or Azure Blob) and, for an
 * object store, proves that the credentials work and the bucket or container exists. Fails with
 * a RepositoryAccessError whose reason and message say what to fix.
 */
export async function openRepositoryStorage(rest: KubeRest, repo: BackupRepository): Promise<Storage> {
  const location = await repositoryLocation(rest, repo);
  const storage = openLocation(location);
  if (location.type !== 'filesystem') {
    try {
      // A listing that matches nothing: the cheapest request that needs the bucket and the
      // credentials (a HEAD of a missing key cannot tell a missing bucket from a missing object).
      await storage.list(`${CONFIG_KEY}/`);
    } catch (err) {
      throw accessErrorOf(err, storage);
    }
  }
  return storage;
}

/**
 * Creates a repository in empty storage; when another first writer (a backup on another host, a
 * copy) created it in the meantime, opens theirs instead.
 */
async function initOrJoin(
  storage: Storage,
  key: Buffer,
  twinOf: Repository | undefined,
): Promise<Repository> {
  try {
    return await (twinOf ? Repository.initCopyOf(storage, key, twinOf) : Repository.init(storage, key));
  } catch (err) {
    if (await storage.stat(CONFIG_KEY)) {
      return Repository.open(storage, key);
    }
    throw err;
  }
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
  const storage = await openRepositoryStorage(rest, repo);
  try {
    return await Repository.open(storage, key);
  } catch (err) {
    let empty: boolean;
    try {
      empty = err instanceof UnsupportedFormatError && !(await storage.stat(CONFIG_KEY));
      if (empty && (twinOf || create)) {
        return await initOrJoin(storage, key, twinOf);
      }
    } catch (initErr) {
      throw accessErrorOf(initErr, storage);
    }
    if (empty) {
      throw new RepositoryAccessError(
        'Empty',
        `${storage.url} is reachable and holds no repository yet; the first backup (or, for an offsite repository, the first copy) creates it`,
      );
    }
    throw accessErrorOf(err, storage);
  }
}
