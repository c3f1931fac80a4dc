/**
 * The user's key file: any secret of at least 16 bytes (a random key or a long passphrase). It
 * unwraps the repository's master key; losing it loses the repository.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { RepositoryError } from '../repository/errors.js';
import { newGeneratedKey } from '../repository/keys.js';

export async function readKeyFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new RepositoryError(
      `cannot read key file ${path}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/**
 * Writes a new generated key (owner-only permissions); refuses to overwrite an existing file.
 * Tagged as generated, it unwraps the master key without scrypt's deliberate cost.
 */
export async function createKeyFile(path: string): Promise<Buffer> {
  const material = newGeneratedKey();
  try {
    await writeFile(path, material, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    throw new RepositoryError(
      `cannot create key file ${path}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return material;
}
