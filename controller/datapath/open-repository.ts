import { Repository } from '../repository/repository.js';
import { openStorage } from '../storage/open.js';
import { readKeyFile } from './key-file.js';

/**
 * Opens the repository at `url` (`file:///path` or a plain path) with the key in `keyFile`.
 * Rejects with WrongKeyError, UnsupportedFormatError or StorageError, each naming the problem.
 */
export async function openRepository(url: string, keyFile: string): Promise<Repository> {
  return Repository.open(openStorage(url), await readKeyFile(keyFile));
}
