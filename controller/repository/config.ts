/**
 * The repository's only plaintext object: format version, defaults and the wrapped master key.
 * Readers refuse versions newer than they know, so an old binary never misreads a new layout.
 */
import { UnsupportedFormatError } from './errors.js';

export const FORMAT_NAME = 'shadowkeep-repository';
export const FORMAT_VERSION = 1;

export interface WrappedKey {
  kdf: 'scrypt';
  /** scrypt cost parameters: the key file may hold a passphrase, so derivation is deliberately slow. */
  n: number;
  r: number;
  p: number;
  salt: string;
  /** The 32-byte master key sealed with the key derived from the key file (base64). */
  sealed: string;
}

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
    typeof c.chunkSize !== 'number' ||
    typeof c.packSize !== 'number' ||
    !Array.isArray(c.keys) ||
    c.keys.length === 0
  ) {
    throw new UnsupportedFormatError(`${url}: config lacks chunkSize, packSize or keys`);
  }
  return c as RepositoryConfig;
}
