import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FilesystemStorage } from './filesystem.js';
import {
  azureFromConnectionString,
  normalizePrefix,
  sharedKeyFor,
  type AzureBlobLocation,
  type AzureCredential,
  type S3Location,
  type StorageLocation,
} from './location.js';
import { LazyStorage } from './lazy.js';
import { StorageError, type Storage } from './storage.js';

export const S3_BUCKET_PATTERN = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
export const AZURE_CONTAINER_PATTERN = /^[a-z0-9](?:-?[a-z0-9]){2,62}$/;

/** The repository URL forms, for `--help` and error messages. */
export const STORAGE_URL_HELP = `Repository URLs (--repo):
  file:///path or a plain path       a folder (local disk or a mounted SMB share)
  s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION&pathStyle=true&objectLock=true
                                     an S3 bucket; credentials from AWS_ACCESS_KEY_ID and
                                     AWS_SECRET_ACCESS_KEY (or the AWS SDK's usual chain)
  azblob://CONTAINER[/PREFIX]?account=NAME (or accountUrl=URL)&immutability=true
                                     an Azure blob container; credentials from
                                     AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_KEY
                                     (with AZURE_STORAGE_ACCOUNT), or AZURE_STORAGE_SAS_TOKEN
  See docs/object-storage.md.`;

type Env = Record<string, string | undefined>;

function queryOf(u: URL, allowed: readonly string[], url: string): Map<string, string> {
  const q = new Map<string, string>();
  for (const [name, value] of u.searchParams) {
    if (!allowed.includes(name)) {
      throw new StorageError(
        `repository URL ${url}: unknown parameter '${name}'; allowed: ${allowed.join(', ')} (credentials come from environment variables, never the URL)`,
      );
    }
    q.set(name, value);
  }
  return q;
}

function flag(q: Map<string, string>, name: string, url: string): boolean {
  const v = q.get(name);
  if (v === undefined || v === 'false') {
    return false;
  }
  if (v === 'true' || v === '') {
    return true;
  }
  throw new StorageError(`repository URL ${url}: ${name} must be true or false, not '${v}'`);
}

function httpUrl(value: string, name: string, url: string): string {
  // No query or user info: a SAS token or password there would end up in every message.
  if (!/^https?:\/\/[^/?#@]+(\/[^?#]*)?$/.test(value)) {
    throw new StorageError(
      `repository URL ${url}: ${name} must be an http:// or https:// URL without a query or user name, not '${value}'`,
    );
  }
  return value.replace(/\/+$/, '');
}

function s3LocationOf(u: URL, url: string, env: Env): S3Location {
  const q = queryOf(u, ['endpoint', 'region', 'pathStyle', 'objectLock'], url);
  const bucket = u.hostname;
  if (!S3_BUCKET_PATTERN.test(bucket)) {
    throw new StorageError(`repository URL ${url}: '${bucket}' is not a valid S3 bucket name`);
  }
  const prefix = normalizePrefix(decodeURIComponent(u.pathname), `repository URL ${url}: prefix`);
  const endpoint = q.get('endpoint');
  const id = env.AWS_ACCESS_KEY_ID;
  const secret = env.AWS_SECRET_ACCESS_KEY;
  return {
    type: 's3',
    // Credential-free as given: only known parameters pass, and none of them holds a secret.
    url,
    bucket,
    prefix,
    endpoint: endpoint === undefined ? undefined : httpUrl(endpoint, 'endpoint', url),
    region: q.get('region') ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    forcePathStyle: flag(q, 'pathStyle', url),
    credentials:
      id && secret
        ? { accessKeyId: id, secretAccessKey: secret, sessionToken: env.AWS_SESSION_TOKEN ?? undefined }
        : undefined,
    objectLock: flag(q, 'objectLock', url),
  };
}

function azureLocationOf(u: URL, url: string, env: Env): AzureBlobLocation {
  const q = queryOf(u, ['account', 'accountUrl', 'immutability'], url);
  const container = u.hostname;
  if (!AZURE_CONTAINER_PATTERN.test(container)) {
    throw new StorageError(`repository URL ${url}: '${container}' is not a valid Azure container name`);
  }
  const prefix = normalizePrefix(decodeURIComponent(u.pathname), `repository URL ${url}: prefix`);
  const fromString = env.AZURE_STORAGE_CONNECTION_STRING
    ? azureFromConnectionString(env.AZURE_STORAGE_CONNECTION_STRING, 'AZURE_STORAGE_CONNECTION_STRING')
    : undefined;
  const account = q.get('account') ?? env.AZURE_STORAGE_ACCOUNT;
  const given = q.get('accountUrl');
  const accountUrl = given
    ? httpUrl(given, 'accountUrl', url)
    : account
      ? `https://${account}.blob.core.windows.net`
      : fromString?.accountUrl?.replace(/\/+$/, '');
  if (!accountUrl) {
    throw new StorageError(
      `repository URL ${url}: say which storage account: add ?account=NAME or ?accountUrl=URL, or set AZURE_STORAGE_ACCOUNT or AZURE_STORAGE_CONNECTION_STRING`,
    );
  }
  let credential: AzureCredential;
  if (fromString) {
    credential = fromString.credential;
  } else if (env.AZURE_STORAGE_ACCOUNT_KEY) {
    credential = account
      ? { kind: 'sharedKey', accountName: account, accountKey: env.AZURE_STORAGE_ACCOUNT_KEY }
      : sharedKeyFor(accountUrl, env.AZURE_STORAGE_ACCOUNT_KEY, 'AZURE_STORAGE_ACCOUNT_KEY');
  } else if (env.AZURE_STORAGE_SAS_TOKEN) {
    credential = { kind: 'sas', token: env.AZURE_STORAGE_SAS_TOKEN.replace(/^\?/, '') };
  } else {
    throw new StorageError(
      `repository URL ${url}: no Azure credentials: set AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_TOKEN`,
    );
  }
  return {
    type: 'azureBlob',
    url,
    accountUrl,
    container,
    prefix,
    credential,
    immutability: flag(q, 'immutability', url),
  };
}

/**
 * Where a repository URL points, with credentials from `env` (the process environment by
 * default): `file:///path` or a plain path, `s3://BUCKET/PREFIX?…` or `azblob://CONTAINER/PREFIX?…`.
 */
export function parseStorageUrl(url: string, env: Env = process.env): StorageLocation {
  if (url.startsWith('file://')) {
    return { type: 'filesystem', url, root: fileURLToPath(url) };
  }
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    const root = resolve(url);
    return { type: 'filesystem', url: `file://${root}`, root };
  }
  const u = new URL(url);
  if (u.protocol === 's3:') {
    return s3LocationOf(u, url, env);
  }
  if (u.protocol === 'azblob:') {
    return azureLocationOf(u, url, env);
  }
  throw new StorageError(`unsupported repository URL '${url}'\n${STORAGE_URL_HELP}`);
}

/** Opens the backend a location describes; an object store's SDK loads on its first request. */
export function openLocation(location: StorageLocation): Storage {
  switch (location.type) {
    case 'filesystem':
      return new FilesystemStorage(location.root, location.url);
    case 's3':
      return new LazyStorage(
        location,
        location.objectLock,
        async () => new (await import('./s3.js')).S3Storage(location),
      );
    case 'azureBlob':
      return new LazyStorage(
        location,
        location.immutability,
        async () => new (await import('./azure-blob.js')).AzureBlobStorage(location),
      );
  }
}

/**
 * Opens storage from a repository URL. `file:///path` (or a plain path) is the filesystem backend,
 * which also serves SMB shares mounted on the host; `s3://` and `azblob://` are object stores.
 */
export function openStorage(url: string): Storage {
  return openLocation(parseStorageUrl(url));
}
