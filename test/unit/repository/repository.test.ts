import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { backupDisk } from '../../../controller/datapath/backup.js';
import { restoreDisk } from '../../../controller/datapath/restore.js';
import { checkRepository } from '../../../controller/repository/check.js';
import { UnsupportedFormatError, WrongKeyError } from '../../../controller/repository/errors.js';
import { collectGarbage } from '../../../controller/repository/gc.js';
import { BackupWriter } from '../../../controller/repository/writer.js';
import { Repository } from '../../../controller/repository/repository.js';
import { FilesystemStorage } from '../../../controller/storage/filesystem.js';
import { StorageFullError } from '../../../controller/storage/storage.js';
import { MiB, makeRawImage, tempDir, type TempDir } from '../../support/disk-images.js';
import { makeRepository } from '../../support/repositories.js';

const run = promisify(execFile);

async function packFiles(repo: Repository): Promise<string[]> {
  return (await repo.storage.list('packs/')).map((o) => o.key);
}

describe('the repository', function () {
  // Real qemu images and child processes: generous for CI's 2 shared cores.
  this.timeout(120_000);
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(() => dir.remove());

  it('stores nothing readable without the key: chunk data and ids are encrypted', async () => {
    const { repo } = await makeRepository(dir.file('repo'));
    const marker = Buffer.from('SHADOWKEEP-PLAINTEXT-MARKER-'.repeat(40));
    const image = dir.file('disk.raw');
    await makeRawImage(image, 4 * MiB, []);
    const h = await open(image, 'r+');
    await h.write(marker, 0, marker.length, MiB);
    await h.close();
    await backupDisk(repo, image, { threads: 1 });
    for (const key of await packFiles(repo)) {
      expect((await repo.storage.get(key)).includes(marker.subarray(0, 28))).to.be.false;
    }
  });

  it('refuses a wrong key file with a clear error', async () => {
    await makeRepository(dir.file('repo'));
    const err = await Repository.open(new FilesystemStorage(dir.file('repo')), randomBytes(32)).catch(
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(WrongKeyError);
    expect((err as Error).message).to.match(/key file does not unlock this repository/);
  });

  it('refuses a repository written by a newer format version, naming both versions', async () => {
    const { key } = await makeRepository(dir.file('repo'));
    const config = JSON.parse(await readFile(dir.file('repo/config'), 'utf8')) as { version: number };
    config.version = 2;
    await writeFile(dir.file('repo/config'), JSON.stringify(config));
    const err = await Repository.open(new FilesystemStorage(dir.file('repo')), key).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(UnsupportedFormatError);
    expect((err as Error).message).to.match(/format version 2 is newer than this Shadowkeep supports \(1\)/);
  });

  it('refuses to initialise over an existing repository', async () => {
    const { key } = await makeRepository(dir.file('repo'));
    const err = await Repository.init(new FilesystemStorage(dir.file('repo')), key).catch((e: unknown) => e);
    expect((err as Error).message).to.match(/already exists/);
  });

  it('check --read-data names the recovery points a damaged chunk affects', async () => {
    const { repo } = await makeRepository(dir.file('repo'));
    await makeRawImage(dir.file('a.raw'), 2 * MiB, [{ offset: 0, length: 2 * MiB }]);
    const a = await backupDisk(repo, dir.file('a.raw'), { threads: 1 });
    expect((await checkRepository(repo, { readData: true })).problems).to.deep.equal([]);
    const [pack] = await packFiles(repo);
    const h = await open(dir.file(`repo/${pack!}`), 'r+');
    await h.write(Buffer.from([0xff, 0x00, 0xff]), 0, 3, 100);
    await h.close();
    const structural = await checkRepository(repo);
    expect(structural.problems).to.deep.equal([]);
    const report = await checkRepository(repo, { readData: true });
    expect(report.problems).to.have.length(1);
    expect(report.problems[0]!.problem).to.match(/failed authentication/);
    expect(report.problems[0]!.affectedManifests).to.deep.equal([a.id]);
  });

  it('check names recovery points whose pack is missing', async () => {
    const { repo } = await makeRepository(dir.file('repo'));
    await makeRawImage(dir.file('a.raw'), MiB, [{ offset: 0, length: MiB }]);
    const a = await backupDisk(repo, dir.file('a.raw'), { threads: 1 });
    for (const key of await packFiles(repo)) {
      await repo.storage.delete(key);
    }
    const report = await checkRepository(repo);
    expect(report.problems).to.not.be.empty;
    for (const p of report.problems) {
      expect(p.problem).to.match(/pack .* is missing/);
      expect(p.affectedManifests).to.deep.equal([a.id]);
    }
  });

  describe('garbage collection', () => {
    it('deletes only data no remaining recovery point uses, and only after the grace period', async () => {
      const { repo } = await makeRepository(dir.file('repo'), { packSize: MiB });
      await makeRawImage(dir.file('a.raw'), 4 * MiB, [{ offset: 0, length: 4 * MiB }]);
      await makeRawImage(dir.file('b.raw'), 4 * MiB, [{ offset: 0, length: 4 * MiB }]);
      const a = await backupDisk(repo, dir.file('a.raw'), { threads: 1 });
      const b = await backupDisk(repo, dir.file('b.raw'), { threads: 1 });
      await repo.deleteManifest(a.id);

      const early = await collectGarbage(repo, { graceMs: 60_000 });
      expect(early.packsDeleted).to.equal(0);
      const later = await collectGarbage(repo, { graceMs: 60_000, now: new Date(Date.now() + 120_000) });
      expect(later.packsCondemned).to.be.greaterThan(0);
      expect(later.packsDeleted).to.equal(0);
      const last = await collectGarbage(repo, { graceMs: 60_000, now: new Date(Date.now() + 240_000) });
      expect(last.packsDeleted).to.equal(later.packsCondemned);

      expect((await checkRepository(repo, { readData: true })).problems).to.deep.equal([]);
      await restoreDisk(repo, b.id, dir.file('b.out'));
      expect((await readFile(dir.file('b.out'))).equals(await readFile(dir.file('b.raw')))).to.be.true;
    });

    it('never deletes a chunk that a backup committed after the pack was condemned', async () => {
      const { repo } = await makeRepository(dir.file('repo'));
      await makeRawImage(dir.file('a.raw'), 2 * MiB, [{ offset: 0, length: 2 * MiB }]);
      const a = await backupDisk(repo, dir.file('a.raw'), { threads: 1 });
      await repo.deleteManifest(a.id);
      // A concurrent backup loads the index before garbage collection condemns the pack...
      const writer = new BackupWriter(repo, await repo.loadIndex({ forWriting: true }));
      const grace = { graceMs: 60_000 };
      const later = (s: number): Date => new Date(Date.now() + s * 1000);
      expect((await collectGarbage(repo, { ...grace, now: later(120) })).packsCondemned).to.equal(1);
      // ...and commits a manifest reusing its chunks; they are copied out of the condemned pack.
      const again = await writer.commit({ ...a, parent: null });
      const sweep = await collectGarbage(repo, { ...grace, now: later(240) });
      expect(sweep.packsDeleted).to.equal(1);
      expect((await checkRepository(repo, { readData: true })).problems).to.deep.equal([]);
      await restoreDisk(repo, again.id, dir.file('a.out'));
      expect((await readFile(dir.file('a.out'))).equals(await readFile(dir.file('a.raw')))).to.be.true;
    });
  });

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
