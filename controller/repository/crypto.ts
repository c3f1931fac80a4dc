/**
 * The repository's cryptography, as small pure functions (also used inside worker threads):
 * AES-256-GCM for every stored byte, keyed BLAKE3 for chunk ids, BLAKE3 key derivation for
 * sub-keys. Nonces are random (96 bits): at one nonce per 1 MiB chunk the collision bound of
 * 2^32 messages per key is several petabytes away.
 */
import { Blake3Hasher } from '@napi-rs/blake-hash';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { IntegrityError } from './errors.js';

const NONCE = 12;
const TAG = 16;
/** Bytes a sealed object adds to its plaintext. */
export const SEAL_OVERHEAD = NONCE + TAG;

/** The keys derived from a repository's master key. Passed to workers as raw bytes. */
export interface RepositoryKeys {
  /** Encrypts chunks and metadata objects. */
  encryption: Buffer;
  /** Keys the chunk-id hash, so ids reveal nothing about content to someone without the key. */
  chunkId: Buffer;
}

export function deriveKeys(masterKey: Buffer): RepositoryKeys {
  return {
    encryption: Blake3Hasher.deriveKey('shadowkeep 2026-11 repository v1 encryption', masterKey),
    chunkId: Blake3Hasher.deriveKey('shadowkeep 2026-11 repository v1 chunk id', masterKey),
  };
}

export function chunkId(idKey: Buffer, data: Uint8Array): Buffer {
  return Blake3Hasher.newKeyed(idKey).update(data).digestBuffer();
}

/**
 * Encrypts the concatenation of `parts` (avoiding a copy) bound to `aad`, which names what the
 * object is (a chunk id, an object key): a sealed object moved elsewhere fails to open.
 */
export function seal(key: Buffer, parts: readonly Uint8Array[], aad: Uint8Array): Buffer[] {
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aad);
  const out = [nonce, ...parts.map((p) => cipher.update(p)), cipher.final()];
  out.push(cipher.getAuthTag());
  return out;
}

export function sealToBuffer(key: Buffer, parts: readonly Uint8Array[], aad: Uint8Array): Buffer {
  return Buffer.concat(seal(key, parts, aad));
}

/** Decrypts and authenticates; `what` names the object in the error. */
export function unseal(key: Buffer, sealed: Uint8Array, aad: Uint8Array, what: string): Buffer {
  if (sealed.length < SEAL_OVERHEAD) {
    throw new IntegrityError(`${what} is ${sealed.length} bytes, too short to be a sealed object`);
  }
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, NONCE));
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
  try {
    const plain = decipher.update(sealed.subarray(NONCE, sealed.length - TAG));
    const rest = decipher.final();
    // GCM yields everything from update(); concatenating an empty final() would copy it all.
    return rest.length === 0 ? plain : Buffer.concat([plain, rest]);
  } catch {
    throw new IntegrityError(
      `${what} failed authentication (damaged, or not encrypted with this repository's key)`,
    );
  }
}
