/**
 * The user's key file unlocks the repository's master key; the master key never leaves memory
 * unwrapped. Changing the key file means re-wrapping one small object, not re-encrypting data.
 */
import { hkdf, randomBytes, scrypt } from 'node:crypto';
import { promisify } from 'node:util';
import { sealToBuffer, unseal } from './crypto.js';
import { IntegrityError, RepositoryError, WrongKeyError } from './errors.js';
import type { WrappedKey } from './config.js';

const scryptAsync = promisify(scrypt) as (
  password: Buffer,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

const hkdfAsync = promisify(hkdf);

const MIN_KEY_MATERIAL = 16;
const DEFAULT_COST = { n: 2 ** 15, r: 8, p: 1 };

/**
 * What `repo init` writes into a new key file: a tag, then 32 bytes from the system's random
 * source (base64). Only material of exactly this form is taken as a generated key; anything else
 * may be a passphrase.
 */
export const GENERATED_KEY_TAG = 'shadowkeep-key-v1:';
const GENERATED_KEY = /^shadowkeep-key-v1:([A-Za-z0-9+/]{43}=)\r?\n?$/;

export function newGeneratedKey(): Buffer {
  return Buffer.from(`${GENERATED_KEY_TAG}${randomBytes(32).toString('base64')}\n`);
}

/** Whether the key file holds a generated key (256 random bits) rather than a possible passphrase. */
export function isGeneratedKey(material: Buffer): boolean {
  const m = GENERATED_KEY.exec(material.toString('latin1'));
  return m?.[1] !== undefined && Buffer.from(m[1], 'base64').length === 32;
}

function aad(repositoryId: string): Buffer {
  return Buffer.from(`shadowkeep master key ${repositoryId}`);
}

/**
 * The key that seals the master key. A passphrase is stretched with scrypt (32 MiB, ~0.1 s) so
 * that guessing it is slow; a generated key has 256 bits to guess already, so HKDF extracts the
 * sealing key from it at no cost, as age does for keys and scrypt only for passphrases.
 */
async function kek(material: Buffer, w: WrappedKey): Promise<Buffer> {
  const salt = Buffer.from(w.salt, 'base64');
  if (w.kdf === 'hkdf-sha256') {
    return Buffer.from(await hkdfAsync('sha256', material, salt, 'shadowkeep master key wrap', 32));
  }
  return scryptAsync(material, salt, 32, {
    N: w.n,
    r: w.r,
    p: w.p,
    maxmem: 256 * w.n * w.r,
  });
}

export function assertKeyMaterial(material: Buffer, source: string): void {
  if (material.length < MIN_KEY_MATERIAL) {
    throw new RepositoryError(
      `key file ${source} holds ${material.length} bytes; at least ${MIN_KEY_MATERIAL} are needed`,
    );
  }
}

export async function wrapMasterKey(
  masterKey: Buffer,
  material: Buffer,
  repositoryId: string,
): Promise<WrappedKey> {
  const salt = randomBytes(16).toString('base64');
  const derivation: WrappedKey = isGeneratedKey(material)
    ? { kdf: 'hkdf-sha256', salt, sealed: '' }
    : { kdf: 'scrypt', ...DEFAULT_COST, salt, sealed: '' };
  const sealed = sealToBuffer(await kek(material, derivation), [masterKey], aad(repositoryId));
  return { ...derivation, sealed: sealed.toString('base64') };
}

export async function unwrapMasterKey(
  wrapped: readonly WrappedKey[],
  material: Buffer,
  repositoryId: string,
): Promise<Buffer> {
  for (const w of wrapped) {
    try {
      return unseal(await kek(material, w), Buffer.from(w.sealed, 'base64'), aad(repositoryId), 'master key');
    } catch (err) {
      if (!(err instanceof IntegrityError)) {
        throw err;
      }
    }
  }
  throw new WrongKeyError('the key file does not unlock this repository (wrong key file?)');
}
