import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { backupDisk } from '../../../controller/datapath/backup.js';
import { checkRepository } from '../../../controller/repository/check.js';
import { FilesystemStorage } from '../../../controller/storage/filesystem.js';
import { StorageFullError } from '../../../controller/storage/storage.js';
import { MiB, makeRawImage, tempDir, type TempDir } from '../../support/disk-images.js';
import { makeRepository } from '../../support/repositories.js';
import { storageSuite } from '../../support/storage-suite.js';

const run = promisify(execFile);

describe('the filesystem backend', () => {
  const dirs: TempDir[] = [];
  const fresh = async (): Promise<FilesystemStorage> => {
    const dir = await tempDir('shadowkeep-repo-');
    dirs.push(dir);
    return new FilesystemStorage(dir.file('repo'));
  };
  after(async () => {
    await Promise.all(dirs.map((d) => d.remove()));
  });
  storageSuite({ name: 'a filesystem', newStorage: fresh, newStorageForLargeObjects: fresh });
});

describe('the repository on a filesystem', function () {
  // Real qemu images and child processes: generous for CI's 2 shared cores.
  this.timeout(120_000);
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(() => dir.remove());

  it('fails a backup on a full disk with a clear error, leaving earlier recovery points intact', async function () {
    const mount = dir.file('small');
    await run('mkdir', ['-p', mount]);
    try {
      await run('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mount]);
    } catch {
      this.skip(); // needs root to mount a small filesystem
    }
    try {
      const { repo } = await makeRepository(mount, { packSize: MiB, compressionLevel: 0 });
      await makeRawImage(dir.file('a.raw'), MiB, [{ offset: 0, length: MiB }]);
      const a = await backupDisk(repo, dir.file('a.raw'), { threads: 1 });
      await makeRawImage(dir.file('big.raw'), 8 * MiB, [{ offset: 0, length: 8 * MiB }]);
      const err = await backupDisk(repo, dir.file('big.raw'), { threads: 1 }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(StorageFullError);
      expect((err as Error).message).to.match(/storage full \(no space left\)/);
      expect(await repo.listManifestIds()).to.deep.equal([a.id]);
      expect((await checkRepository(repo, { readData: true })).problems).to.deep.equal([]);
    } finally {
      await run('umount', [mount]);
    }
  });
});
