/**
 * Where a storage is, as plain data: what `openLocation` (open.ts) needs to open a backend, and
 * what a restore's worker threads are given to open the same storage again. Credentials are part
 * of it, so a location is never logged; `url` is the credential-free form for messages.
 */
import { StorageError } from './storage.js';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface S3Location {
  type: 's3';
  url: string;
  bucket: string;
  /** Key prefix without leading or trailing '/', or '' for the bucket's root. */
  prefix: string;
  /** Endpoint of an S3-compatible server; AWS when absent. */
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  /** Absent: the AWS SDK's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles, IMDS). */
  credentials?: S3Credentials;
  /** The bucket has Object Lock enabled: writes may carry a retention date. */
  objectLock: boolean;
}

export type AzureCredential =
  { kind: 'sharedKey'; accountName: string; accountKey: string } | { kind: 'sas'; token: string };

export interface AzureBlobLocation {
  type: 'azureBlob';
  url: string;
  /** The account's blob endpoint, e.g. https://contosobackup.blob.core.windows.net. */
  accountUrl: string;
  container: string;
  prefix: string;
  credential: AzureCredential;
  /** The container supports version-level immutability: writes may carry a retention date. */
  immutability: boolean;
}

export interface FilesystemLocation {
  type: 'filesystem';
  url: string;
  root: string;
}

export type StorageLocation = FilesystemLocation | S3Location | AzureBlobLocation;

/**
 * A repository prefix as given by a user ('shadowkeep/prod', '/a/b/'), normalised to segments
 * joined by '/', each made of the characters keys allow, so no prefix can reach outside itself.
 */
export function normalizePrefix(prefix: string | undefined, setting: string): string {
  const segments = (prefix ?? '').split('/').filter((s) => s !== '');
  for (const s of segments) {
    if (s === '.' || s === '..' || !/^[A-Za-z0-9._-]+$/.test(s)) {
      throw new StorageError(
        `${setting} '${prefix ?? ''}' may contain only letters, digits, '.', '_', '-' and '/' between names`,
      );
    }
  }
  return segments.join('/');
}

/** The fields of an Azure connection string ("AccountName=…;AccountKey=…;BlobEndpoint=…"). */
export function parseConnectionString(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) {
      fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
    }
  }
  return fields;
}

/**
 * What an Azure connection string says about the account: its blob endpoint and credential.
 * Supports the shared key and SAS forms the Azure portal and Azurite hand out.
 */
export function azureFromConnectionString(
  text: string,
  setting: string,
): { accountUrl?: string; credential: AzureCredential } {
  const f = parseConnectionString(text);
  const account = f.get('AccountName');
  const suffix = f.get('EndpointSuffix') ?? 'core.windows.net';
  const protocol = f.get('DefaultEndpointsProtocol') ?? 'https';
  const accountUrl =
    f.get('BlobEndpoint') ?? (account ? `${protocol}://${account}.blob.${suffix}` : undefined);
  const key = f.get('AccountKey');
  const sas = f.get('SharedAccessSignature');
  if (account && key) {
    return { accountUrl, credential: { kind: 'sharedKey', accountName: account, accountKey: key } };
  }
  if (sas) {
    return { accountUrl, credential: { kind: 'sas', token: sas.replace(/^\?/, '') } };
  }
  throw new StorageError(
    `${setting} is not a usable connection string: it needs AccountName and AccountKey, or SharedAccessSignature`,
  );
}

/**
 * The storage account named by an account URL: the first label of its host
 * (contoso.blob.core.windows.net), or, for an emulator addressed by IP or localhost, the first
 * path segment (http://127.0.0.1:10000/devstoreaccount1).
 */
export function accountNameOf(accountUrl: string): string | undefined {
  const u = new URL(accountUrl);
  const host = u.hostname;
  const emulator = host === 'localhost' || /^[\d.]+$/.test(host) || host.startsWith('[');
  const name = emulator ? u.pathname.split('/').find((s) => s !== '') : host.split('.')[0];
  return name && /^[a-z0-9]{1,64}$/.test(name) ? name : undefined;
}

/** A shared key credential for the account at `accountUrl`, or an error saying what is missing. */
export function sharedKeyFor(accountUrl: string, accountKey: string, setting: string): AzureCredential {
  const accountName = accountNameOf(accountUrl);
  if (!accountName) {
    throw new StorageError(
      `cannot tell the storage account's name from ${accountUrl} for ${setting}; use a connection string with AccountName instead`,
    );
  }
  return { kind: 'sharedKey', accountName, accountKey };
}
