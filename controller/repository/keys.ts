/**
 * The user's key file unlocks the repository's master key; the master key never leaves memory
 * unwrapped. Changing the key file means re-wrapping one small object, not re-encrypting data.
 */
import { randomBytes, scrypt } from 'node:crypto';
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

const MIN_KEY_MATERIAL = 16;
const DEFAULT_COST = { n: 2 ** 15, r: 8, p: 1 };

function aad(repositoryId: string): Buffer {
  return Buffer.from(`shadowkeep master key ${repositoryId}`);
}

async function kek(material: Buffer, w: Pick<WrappedKey, 'n' | 'r' | 'p' | 'salt'>): Promise<Buffer> {
  return scryptAsync(material, Buffer.from(w.salt, 'base64'), 32, {
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
  const params = { ...DEFAULT_COST, salt: randomBytes(16).toString('base64') };
  const sealed = sealToBuffer(await kek(material, params), [masterKey], aad(repositoryId));
  return { kdf: 'scrypt', ...params, sealed: sealed.toString('base64') };
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
