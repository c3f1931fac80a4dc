/** What the S3 and Azure Blob backends share: pure helpers, no I/O. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ObjectInfo } from './storage.js';

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
