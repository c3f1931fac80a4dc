/**
 * The user's key file: any secret of at least 16 bytes (a random key or a long passphrase). It
 * unwraps the repository's master key; losing it loses the repository.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { RepositoryError } from '../repository/errors.js';

export async function readKeyFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new RepositoryError(
      `cannot read key file ${path}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/** Writes a new random key (owner-only permissions); refuses to overwrite an existing file. */
export async function createKeyFile(path: string): Promise<Buffer> {
  const material = Buffer.from(`${randomBytes(32).toString('base64')}\n`);
  try {
    await writeFile(path, material, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    throw new RepositoryError(
      `cannot create key file ${path}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return material;
}
