/**
 * Storage in an S3-compatible bucket (AWS S3, MinIO, VersityGW, Ceph RGW…), under a key prefix.
 * - Atomicity: S3 makes an object visible only when its PutObject or CompleteMultipartUpload
 *   succeeds; an interrupted upload leaves nothing visible (incomplete multipart uploads are
 *   aborted, and a bucket lifecycle rule should clean up any a killed process leaves behind).
 * - `create` sends `If-None-Match: *`, which AWS S3 and current S3-compatible servers honour
 *   atomically. It first asks whether the key exists, so a server that ignores the header still
 *   refuses an existing object; only two writers racing on such a server can both succeed, which
 *   `Repository.init` (the one user of `create` in the repository itself) tolerates.
 * - Locks: a write with `retainUntil` sets Object Lock retention in COMPLIANCE mode: nobody, not
 *   even the bucket owner or an attacker with the same credentials, can shorten it or delete the
 *   object early. GOVERNANCE could be bypassed by anyone holding s3:BypassGovernanceRetention,
 *   which is exactly the ransomware case offsite immutability exists for.
 * - Retries: the SDK's standard retry strategy (exponential back-off with jitter) retries 5xx,
 *   throttling, timeouts and reset connections; signing corrects for clock skew from the server's
 *   Date header when the server answers RequestTimeTooSkewed.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type ObjectLockMode,
} from '@aws-sdk/client-s3';
import type { S3Location } from './location.js';
import {
  LockingUnsupportedError,
  ObjectExistsError,
  ObjectLockedError,
  ObjectNotFoundError,
  StorageAccessDeniedError,
  StorageError,
  StorageLocationNotFoundError,
  type ObjectInfo,
  type PutOptions,
} from './storage.js';
import { ObjectStore, concatParts, keySorted, redact, retryBrokenDownload, sizeOf } from './object-store.js';

export interface S3Tuning {
  /** Objects larger than this go up in parts; AWS allows 5 GiB in one PutObject. */
  multipartThreshold?: number;
  /** Size of each part (AWS: at least 5 MiB, at most 10,000 parts). */
  partSize?: number;
  /** Tries per request, the first included. */
  maxAttempts?: number;
}

const LOCK_MODE: ObjectLockMode = 'COMPLIANCE';

interface S3Failure {
  name?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

function failure(err: unknown): S3Failure {
  return typeof err === 'object' && err !== null ? err : {};
}

async function bodyOf(body: { transformToByteArray(): Promise<Uint8Array> } | undefined): Promise<Buffer> {
  return body ? Buffer.from(await body.transformToByteArray()) : Buffer.alloc(0);
}

export class S3Storage extends ObjectStore {
  private readonly client: S3Client;

  constructor(
    readonly location: S3Location,
    tuning: S3Tuning = {},
  ) {
    super(location, location.objectLock, {
      singleUpTo: tuning.multipartThreshold,
      partSize: tuning.partSize,
    });
    this.client = new S3Client({
      region: location.region,
      endpoint: location.endpoint,
      forcePathStyle: location.forcePathStyle,
      credentials: location.credentials,
      maxAttempts: tuning.maxAttempts ?? 5,
      retryMode: 'standard',
      // Without timeouts a server that accepts and then stalls would hang a backup forever.
      requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000, throwOnRequestTimeout: true },
    });
  }

  private objectKey(key: string): string {
    return this.names.nameOf(key);
  }

  private where(): string {
    return this.location.endpoint ?? `AWS region ${this.location.region}`;
  }

  protected override statusOf(err: unknown): number | undefined {
    return failure(err).$metadata?.httpStatusCode;
  }

  protected override translate(err: unknown, key: string, action: string): Error {
    if (err instanceof StorageError) {
      return err;
    }
    const f = failure(err);
    const code = f.Code ?? f.name ?? '';
    const status = f.$metadata?.httpStatusCode;
    const { bucket } = this.location;
    if (code === 'NoSuchKey' || (status === 404 && code === 'NotFound')) {
      return new ObjectNotFoundError(this.url, key);
    }
    if (code === 'NoSuchBucket') {
      return new StorageLocationNotFoundError(
        `bucket ${bucket} does not exist at ${this.where()}; create it or fix the bucket name (spec.s3.bucket)`,
      );
    }
    if (code === 'CredentialsProviderError') {
      return new StorageAccessDeniedError(
        `${this.url}: no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or spec.s3.credentialsSecret)`,
      );
    }
    if (
      ['PermanentRedirect', 'AuthorizationHeaderMalformed', 'IllegalLocationConstraintException'].includes(
        code,
      )
    ) {
      return new StorageError(
        `${this.url}: ${action} ${key}: bucket ${bucket} is in another region than ${this.location.region} (${code}); set the bucket's region (spec.s3.region, or region= in the URL)`,
      );
    }
    if (code === 'RequestTimeTooSkewed') {
      return new StorageAccessDeniedError(
        `${this.url}: ${this.where()} refused the request because this machine's clock differs from the server's by more than 15 minutes; fix the clock (NTP)`,
      );
    }
    if (
      status === 403 ||
      ['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'Forbidden'].includes(code)
    ) {
      return new StorageAccessDeniedError(
        `${this.url}: ${action} ${key} refused by ${this.where()} (${code}): check the access key and secret (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, spec.s3.credentialsSecret) and that they may use bucket ${bucket}`,
      );
    }
    return this.unreachableOrFailed(
      err,
      {
        key,
        action,
        where: this.where(),
        fix: 'check the endpoint (spec.s3.endpoint), the network and the server',
      },
      { code, message: f.message },
    );
  }

  private lockParams(key: string, options: PutOptions | undefined) {
    const until = options?.retainUntil;
    if (!until) {
      return {};
    }
    if (!this.locking) {
      throw new LockingUnsupportedError(
        `${this.url}: cannot lock ${key} until ${until.toISOString()}: this repository is not marked as having Object Lock (spec.s3.objectLock, or objectLock=true in the URL); create the bucket with Object Lock enabled and set it`,
      );
    }
    return { ObjectLockMode: LOCK_MODE, ObjectLockRetainUntilDate: until };
  }

  /**
   * Some servers (VersityGW among them) accept retention headers on a bucket without Object Lock
   * and store the object unlocked; asking the bucket first keeps the promise never to do that.
   */
  private assertBucketLocks(key: string): Promise<void> {
    return this.canLock.get(() =>
      this.client
        .send(new GetObjectLockConfigurationCommand({ Bucket: this.location.bucket }))
        .then(
          (out) => out.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled',
          (err: unknown) => {
            if ((failure(err).name ?? failure(err).Code ?? '').includes('ObjectLockConfigurationNotFound')) {
              return false;
            }
            throw this.translate(err, key, 'checking Object Lock of the bucket for');
          },
        )
        .then((enabled) => {
          if (!enabled) {
            throw new LockingUnsupportedError(
              `${this.url}: cannot lock ${key}: bucket ${this.location.bucket} has no Object Lock configuration; create the bucket with Object Lock enabled, or unset spec.s3.objectLock`,
            );
          }
        }),
    );
  }

  /** Errors a server gives when the bucket cannot lock, as the message that says how to fix it. */
  private lockFailure(err: unknown, key: string): Error | undefined {
    const f = failure(err);
    if (
      f.Code === 'InvalidRequest' ||
      f.name === 'InvalidRequest' ||
      f.name === 'InvalidBucketObjectLockConfiguration'
    ) {
      if (/lock/i.test(f.message ?? '')) {
        return new LockingUnsupportedError(
          `${this.url}: cannot lock ${key}: bucket ${this.location.bucket} has no Object Lock configuration (${redact(f.message)}); create the bucket with Object Lock enabled, or unset spec.s3.objectLock`,
        );
      }
    }
    return undefined;
  }

  async put(key: string, data: Uint8Array | readonly Uint8Array[], options?: PutOptions): Promise<void> {
    await this.write(key, data, options, false);
  }

  async create(key: string, data: Uint8Array, options?: PutOptions): Promise<void> {
    if (await this.stat(key)) {
      throw new ObjectExistsError(this.url, key);
    }
    await this.write(key, data, options, true);
  }

  private async write(
    key: string,
    data: Uint8Array | readonly Uint8Array[],
    options: PutOptions | undefined,
    ifAbsent: boolean,
  ): Promise<void> {
    const Key = this.objectKey(key);
    const lock = this.lockParams(key, options);
    if (lock.ObjectLockMode) {
      await this.assertBucketLocks(key);
    }
    const condition = ifAbsent ? { IfNoneMatch: '*' } : {};
    try {
      if (sizeOf(data) > this.uploads.singleUpTo) {
        await this.multipart(Key, concatParts(data), { ...lock, ...condition });
      } else {
        const body = concatParts(data);
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.location.bucket,
            Key,
            Body: body,
            ContentLength: body.length,
            ...lock,
            ...condition,
          }),
        );
      }
    } catch (err) {
      const f = failure(err);
      if (ifAbsent && (f.$metadata?.httpStatusCode === 412 || f.name === 'ConditionalRequestConflict')) {
        throw new ObjectExistsError(this.url, key);
      }
      throw this.lockFailure(err, key) ?? this.translate(err, key, 'writing');
    }
  }

  /** Uploads in parts; the object appears only when the upload completes, and failures abort it. */
  private async multipart(
    Key: string,
    body: Buffer,
    extra: { ObjectLockMode?: ObjectLockMode; ObjectLockRetainUntilDate?: Date; IfNoneMatch?: string },
  ): Promise<void> {
    const { IfNoneMatch, ...lock } = extra;
    const Bucket = this.location.bucket;
    const { UploadId } = await this.client.send(new CreateMultipartUploadCommand({ Bucket, Key, ...lock }));
    try {
      const parts = [];
      for (let offset = 0, n = 1; offset < body.length; offset += this.uploads.partSize, n++) {
        const chunk = body.subarray(offset, offset + this.uploads.partSize);
        const { ETag } = await this.client.send(
          new UploadPartCommand({
            Bucket,
            Key,
            UploadId,
            PartNumber: n,
            Body: chunk,
            ContentLength: chunk.length,
          }),
        );
        parts.push({ ETag, PartNumber: n });
      }
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId,
          MultipartUpload: { Parts: parts },
          IfNoneMatch,
        }),
      );
    } catch (err) {
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }))
        .catch(() => undefined);
      throw err;
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await retryBrokenDownload(async () => {
        const out = await this.client.send(
          new GetObjectCommand({ Bucket: this.location.bucket, Key: this.objectKey(key) }),
        );
        return bodyOf(out.Body);
      });
    } catch (err) {
      throw this.translate(err, key, 'reading');
    }
  }

  protected override readBytes(key: string, offset: number, length: number): Promise<Buffer> {
    return retryBrokenDownload(async () => {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.location.bucket,
          Key: this.objectKey(key),
          Range: `bytes=${offset}-${offset + length - 1}`,
        }),
      );
      return bodyOf(out.Body);
    });
  }

  protected override async head(key: string): Promise<ObjectInfo> {
    const out = await this.client.send(
      new HeadObjectCommand({ Bucket: this.location.bucket, Key: this.objectKey(key) }),
    );
    return {
      key,
      size: out.ContentLength ?? 0,
      modified: out.LastModified ?? new Date(0),
      retainUntil: out.ObjectLockRetainUntilDate,
    };
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const { base } = this.names;
    const infos: ObjectInfo[] = [];
    let ContinuationToken: string | undefined;
    try {
      do {
        const page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.location.bucket,
            Prefix: base + prefix,
            ContinuationToken,
          }),
        );
        for (const o of page.Contents ?? []) {
          if (o.Key?.startsWith(base)) {
            infos.push({
              key: this.names.keyOf(o.Key),
              size: o.Size ?? 0,
              modified: o.LastModified ?? new Date(0),
            });
          }
        }
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (ContinuationToken);
    } catch (err) {
      throw this.translate(err, prefix, 'listing');
    }
    return keySorted(infos);
  }

  /**
   * In a bucket with Object Lock (always versioned) a plain delete would only add a delete
   * marker and keep the data, and would "succeed" on a locked object. So each version of the key
   * is deleted by id: that frees the space, and the server refuses a locked version.
   */
  async delete(key: string): Promise<void> {
    const Bucket = this.location.bucket;
    const Key = this.objectKey(key);
    try {
      if (!this.locking) {
        await this.client.send(new DeleteObjectCommand({ Bucket, Key }));
        return;
      }
      const info = await this.stat(key);
      if (info?.retainUntil && info.retainUntil.getTime() > Date.now()) {
        throw new ObjectLockedError(this.url, key, info.retainUntil);
      }
      const versions = await this.client.send(new ListObjectVersionsCommand({ Bucket, Prefix: Key }));
      const ids = [...(versions.Versions ?? []), ...(versions.DeleteMarkers ?? [])]
        .filter((v) => v.Key === Key)
        .map((v) => v.VersionId);
      for (const VersionId of ids.length > 0 ? ids : [undefined]) {
        await this.client.send(new DeleteObjectCommand({ Bucket, Key, VersionId }));
      }
    } catch (err) {
      const f = failure(err);
      if (f.$metadata?.httpStatusCode === 403 && /lock|retention|protected/i.test(f.message ?? '')) {
        throw await this.locked(key);
      }
      throw this.translate(err, key, 'deleting');
    }
  }
}
