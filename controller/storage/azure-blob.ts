/**
 * Storage in an Azure Storage blob container (or Azurite), under a blob name prefix.
 * - Atomicity: a block blob appears only when its single Put Blob or its Put Block List commits;
 *   uncommitted blocks are invisible and the service discards them after a week.
 * - `create` sends `If-None-Match: *`, which the service checks atomically.
 * - Locks: a write with `retainUntil` sets a version-level immutability policy in Locked mode:
 *   like S3 COMPLIANCE it cannot be shortened or removed, only extended, so an attacker holding
 *   the account key cannot delete the copy early. The container must have version-level
 *   immutability support enabled.
 * - Retries: the SDK's exponential retry policy retries 5xx, throttling, timeouts and reset
 *   connections.
 */
import {
  BlobServiceClient,
  StorageSharedKeyCredential,
  type BlobImmutabilityPolicy,
  type ContainerClient,
} from '@azure/storage-blob';
import type { AzureBlobLocation } from './location.js';
import { ObjectStore, concatParts, keySorted, retryBrokenDownload } from './object-store.js';
import {
  LockingUnsupportedError,
  ObjectExistsError,
  ObjectNotFoundError,
  StorageAccessDeniedError,
  StorageError,
  StorageLocationNotFoundError,
  type ObjectInfo,
  type PutOptions,
} from './storage.js';

export interface AzureTuning {
  /** Objects larger than this go up as staged blocks committed in one list. */
  maxSingleShotSize?: number;
  blockSize?: number;
  /** Tries per request, the first included. */
  maxTries?: number;
}

interface AzureFailure {
  statusCode?: number;
  code?: string;
  message?: string;
  details?: { errorCode?: string };
}

function failure(err: unknown): AzureFailure {
  return typeof err === 'object' && err !== null ? err : {};
}

function errorCode(err: unknown): string {
  const f = failure(err);
  return f.details?.errorCode ?? f.code ?? '';
}

function serviceClient(location: AzureBlobLocation, maxTries: number): BlobServiceClient {
  const { credential, accountUrl } = location;
  const options = {
    retryOptions: { maxTries, retryDelayInMs: 200, maxRetryDelayInMs: 10_000, tryTimeoutInMs: 120_000 },
  };
  if (credential.kind === 'sharedKey') {
    return new BlobServiceClient(
      accountUrl,
      new StorageSharedKeyCredential(credential.accountName, credential.accountKey),
      options,
    );
  }
  return new BlobServiceClient(`${accountUrl.replace(/\/$/, '')}?${credential.token}`, undefined, options);
}

export class AzureBlobStorage extends ObjectStore {
  private readonly container: ContainerClient;

  constructor(
    readonly location: AzureBlobLocation,
    tuning: AzureTuning = {},
  ) {
    super(location, location.immutability, {
      singleUpTo: tuning.maxSingleShotSize,
      partSize: tuning.blockSize,
    });
    this.container = serviceClient(location, tuning.maxTries ?? 5).getContainerClient(location.container);
  }

  private blobName(key: string): string {
    return this.names.nameOf(key);
  }

  protected override statusOf(err: unknown): number | undefined {
    return failure(err).statusCode;
  }

  protected override translate(err: unknown, key: string, action: string): Error {
    if (err instanceof StorageError) {
      return err;
    }
    const f = failure(err);
    const code = errorCode(err);
    const { accountUrl, container } = this.location;
    if (code === 'ContainerNotFound') {
      return new StorageLocationNotFoundError(
        `container ${container} does not exist at ${accountUrl}; create it or fix the container name (spec.azureBlob.container)`,
      );
    }
    if (code === 'BlobNotFound' || f.statusCode === 404) {
      return new ObjectNotFoundError(this.url, key);
    }
    if (f.statusCode === 403 || /^Authentication|^Authorization/.test(code)) {
      return new StorageAccessDeniedError(
        `${this.url}: ${action} ${key} refused by ${accountUrl} (${code || 'HTTP 403'}): check the account key, SAS token or connection string (AZURE_STORAGE_*, spec.azureBlob.credentialsSecret), its permissions and expiry`,
      );
    }
    return this.unreachableOrFailed(
      err,
      {
        key,
        action,
        where: accountUrl,
        fix: 'check the account URL (spec.azureBlob.accountUrl), the network and the service',
      },
      { code, message: f.message },
    );
  }

  private immutability(key: string, options: PutOptions | undefined): BlobImmutabilityPolicy | undefined {
    const until = options?.retainUntil;
    if (!until) {
      return undefined;
    }
    if (!this.locking) {
      throw new LockingUnsupportedError(
        `${this.url}: cannot lock ${key} until ${until.toISOString()}: this repository is not marked as having version-level immutability (spec.azureBlob.immutability, or immutability=true in the URL); enable it on the container and set it`,
      );
    }
    return { expiriesOn: until, policyMode: 'Locked' };
  }

  /**
   * Azurite (and a misconfigured container) accepts an immutability policy header and stores the
   * blob unlocked; asking the container first keeps the promise never to do that.
   */
  private assertContainerLocks(key: string): Promise<void> {
    return this.canLock.get(() =>
      this.container.getProperties().then(
        (p) => {
          if (!p.isImmutableStorageWithVersioningEnabled) {
            throw new LockingUnsupportedError(
              `${this.url}: cannot lock ${key}: container ${this.location.container} at ${this.location.accountUrl} does not have version-level immutability enabled; enable it, or unset spec.azureBlob.immutability`,
            );
          }
        },
        (err: unknown) => {
          throw this.translate(err, key, 'checking immutability of the container for');
        },
      ),
    );
  }

  async put(key: string, data: Uint8Array | readonly Uint8Array[], options?: PutOptions): Promise<void> {
    await this.write(key, concatParts(data), options, false);
  }

  async create(key: string, data: Uint8Array, options?: PutOptions): Promise<void> {
    await this.write(key, concatParts(data), options, true);
  }

  private async write(key: string, body: Buffer, options: PutOptions | undefined, ifAbsent: boolean) {
    const blob = this.container.getBlockBlobClient(this.blobName(key));
    const immutabilityPolicy = this.immutability(key, options);
    if (immutabilityPolicy) {
      await this.assertContainerLocks(key);
    }
    const conditions = ifAbsent ? { ifNoneMatch: '*' } : undefined;
    try {
      if (body.length <= this.uploads.singleUpTo) {
        await blob.upload(body, body.length, { conditions, immutabilityPolicy });
        return;
      }
      const ids: string[] = [];
      for (let offset = 0; offset < body.length; offset += this.uploads.partSize) {
        const id = Buffer.from(String(ids.length).padStart(6, '0')).toString('base64');
        const part = body.subarray(offset, offset + this.uploads.partSize);
        await blob.stageBlock(id, part, part.length);
        ids.push(id);
      }
      await blob.commitBlockList(ids, { conditions, immutabilityPolicy });
    } catch (err) {
      const code = errorCode(err);
      if (ifAbsent && (code === 'BlobAlreadyExists' || failure(err).statusCode === 409)) {
        throw new ObjectExistsError(this.url, key);
      }
      if (immutabilityPolicy && failure(err).statusCode === 400) {
        throw new LockingUnsupportedError(
          `${this.url}: cannot lock ${key}: ${this.location.accountUrl} refused the immutability policy (${code}); enable version-level immutability on container ${this.location.container}, or unset spec.azureBlob.immutability`,
        );
      }
      throw this.translate(err, key, 'writing');
    }
  }

  /** One Get Blob request for the whole blob or a range; the body's length is the caller's to check. */
  protected override async readBytes(key: string, offset: number, length?: number): Promise<Buffer> {
    const blob = this.container.getBlobClient(this.blobName(key));
    return retryBrokenDownload(async () => {
      const response = await blob.download(offset, length);
      const chunks: Buffer[] = [];
      for await (const chunk of response.readableStreamBody ?? []) {
        chunks.push(chunk as Buffer);
      }
      return Buffer.concat(chunks);
    });
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await this.readBytes(key, 0);
    } catch (err) {
      throw this.translate(err, key, 'reading');
    }
  }

  protected override async head(key: string): Promise<ObjectInfo> {
    const p = await this.container.getBlobClient(this.blobName(key)).getProperties();
    return {
      key,
      size: p.contentLength ?? 0,
      modified: p.lastModified ?? new Date(0),
      retainUntil: p.immutabilityPolicyExpiresOn,
    };
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const infos: ObjectInfo[] = [];
    try {
      for await (const b of this.container.listBlobsFlat({ prefix: this.names.base + prefix })) {
        infos.push({
          key: this.names.keyOf(b.name),
          size: b.properties.contentLength ?? 0,
          modified: b.properties.lastModified,
        });
      }
    } catch (err) {
      throw this.translate(err, prefix, 'listing');
    }
    return keySorted(infos);
  }

  async delete(key: string): Promise<void> {
    try {
      await this.container.getBlobClient(this.blobName(key)).deleteIfExists();
    } catch (err) {
      if (/Immutab|LegalHold/i.test(errorCode(err))) {
        throw await this.locked(key);
      }
      throw this.translate(err, key, 'deleting');
    }
  }
}
