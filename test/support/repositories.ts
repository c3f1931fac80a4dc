/** Fresh repositories on the filesystem backend in temporary folders, with a known key. */
import { randomBytes } from 'node:crypto';
import { FilesystemStorage } from '../../controller/storage/filesystem.js';
import { Repository, type InitOptions } from '../../controller/repository/repository.js';

export async function makeRepository(
  root: string,
  options: InitOptions = {},
): Promise<{ repo: Repository; key: Buffer }> {
  const key = randomBytes(32);
  const repo = await Repository.init(new FilesystemStorage(root), key, options);
  return { repo, key };
}
