/**
 * The repository's only plaintext object: format version, defaults and the wrapped master key.
 * Readers refuse versions newer than they know, so an old binary never misreads a new layout.
 */
import { UnsupportedFormatError } from './errors.js';

export const FORMAT_NAME = 'shadowkeep-repository';
export const FORMAT_VERSION = 1;

/** The master key wrapped by one key file: the key derived from the file seals it. */
export type WrappedKey = {
  salt: string;
  /** The 32-byte master key sealed with the key derived from the key file (base64). */
  sealed: string;
} & (
  | {
      /** For key files that may hold a passphrase: derivation is deliberately slow. */
      kdf: 'scrypt';
      n: number;
      r: number;
      p: number;
    }
  | {
      /** For generated key files (256 random bits): stretching would add nothing. */
      kdf: 'hkdf-sha256';
    }
);

export interface RepositoryConfig {
  format: typeof FORMAT_NAME;
  version: number;
  id: string;
  createdAt: string;
  /** Default size of the fixed, disk-offset-aligned chunks; each manifest records its own. */
  chunkSize: number;
  /** Pack files are closed once they reach this size. */
  packSize: number;
  /** zstd level for chunks (0 = store uncompressed). */
  compressionLevel: number;
  keys: WrappedKey[];
}

export function parseConfig(text: string, url: string): RepositoryConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UnsupportedFormatError(`${url}: config is not valid JSON; this is not a Shadowkeep repository`);
  }
  const c = parsed as Partial<RepositoryConfig> | null;
  if (c?.format !== FORMAT_NAME) {
    throw new UnsupportedFormatError(
      `${url}: not a Shadowkeep repository (config format is ${JSON.stringify(c?.format)})`,
    );
  }
  if (typeof c.version !== 'number' || c.version > FORMAT_VERSION) {
    throw new UnsupportedFormatError(
      `${url}: repository format version ${String(c.version)} is newer than this Shadowkeep supports (${FORMAT_VERSION}); upgrade Shadowkeep`,
    );
  }
  if (
    typeof c.id !== 'string' ||
    !Number.isSafeInteger(c.chunkSize) ||
    !Number.isSafeInteger(c.packSize) ||
    !Number.isSafeInteger(c.compressionLevel) ||
    !Array.isArray(c.keys) ||
    c.keys.length === 0
  ) {
    throw new UnsupportedFormatError(
      `${url}: config lacks id, chunkSize, packSize, compressionLevel or keys`,
    );
  }
  const bad = c.keys.find((k) => wrappedKeyProblem(k) !== undefined);
  if (bad !== undefined) {
    throw new UnsupportedFormatError(`${url}: config has an unusable key entry: ${wrappedKeyProblem(bad)}`);
  }
  return c as RepositoryConfig;
}

/**
 * The scrypt costs a config may ask for. `config` is not authenticated, so without a bound anyone
 * able to write it could make every open derive a key with gigabytes of memory; these allow 32
 * times the default (which is n = 2^15, r = 8, p = 1: 32 MiB).
 */
const MAX_SCRYPT_MEMORY = 1024 * 1024 * 1024;
const MAX_SCRYPT_P = 16;

const isInteger = (v: unknown): v is number => Number.isSafeInteger(v);

/** Why a key entry cannot be used, or undefined when it can. */
function wrappedKeyProblem(k: unknown): string | undefined {
  const w = k as Partial<Record<keyof WrappedKey | 'n' | 'r' | 'p', unknown>> | null;
  if (typeof w?.salt !== 'string' || typeof w.sealed !== 'string') {
    return 'salt and sealed key must be base64 strings';
  }
  if (w.kdf === 'hkdf-sha256') {
    return undefined;
  }
  if (w.kdf !== 'scrypt') {
    return `key derivation ${JSON.stringify(w.kdf)} is neither scrypt nor hkdf-sha256`;
  }
  const { n, r, p } = w;
  if (!isInteger(n) || !isInteger(r) || !isInteger(p)) {
    return 'scrypt parameters n, r and p must be integers';
  }
  if (n < 2 || (n & (n - 1)) !== 0 || r < 1 || p < 1 || p > MAX_SCRYPT_P || 128 * n * r > MAX_SCRYPT_MEMORY) {
    return `scrypt parameters n=${n}, r=${r}, p=${p} are out of range (n a power of two, 128·n·r at most 1 GiB, p at most ${MAX_SCRYPT_P})`;
  }
  return undefined;
}
