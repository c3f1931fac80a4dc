import { expect } from 'chai';
import { backupDisk } from '../../../controller/datapath/backup.js';
import { manifestIdTime, newManifestId } from '../../../controller/repository/manifest.js';
import type { Repository } from '../../../controller/repository/repository.js';
import { MiB, makeRawImage, tempDir, type TempDir } from '../../support/disk-images.js';
import { makeRepository } from '../../support/repositories.js';

describe('finding the newest recovery point of a disk', function () {
  this.timeout(60_000);
  let dir: TempDir;
  let repo: Repository;
  before(async () => {
    dir = await tempDir();
    ({ repo } = await makeRepository(dir.file('repo'), { chunkSize: 64 * 1024 }));
    await makeRawImage(dir.file('a.raw'), MiB, [{ offset: 0, length: 64 * 1024 }]);
    await makeRawImage(dir.file('b.raw'), MiB, [{ offset: 0, length: 128 * 1024 }]);
  });
  after(() => dir.remove());

  it("picks the newest of the disk's own recovery points, past newer ones of other disks", async () => {
    const backup = (name: string) => backupDisk(repo, dir.file(`${name}.raw`), { name, threads: 0 });
    await backup('a');
    await backup('b');
    const newestA = await backup('a');
    const newestB = await backup('b');
    expect((await repo.latestManifest('a'))?.id).to.equal(newestA.id);
    expect((await repo.latestManifest('b'))?.id).to.equal(newestB.id);
    expect((await repo.latestManifest())?.id).to.equal(newestB.id);
    expect(await repo.latestManifest('c')).to.equal(undefined);
  });

  it('reads the time a manifest was made from its id, and nothing from an id of another form', () => {
    const at = new Date('2026-11-21T23:29:20.123Z');
    expect(manifestIdTime(newManifestId(at))).to.equal(at.getTime());
    expect(manifestIdTime('imported-point')).to.equal(undefined);
  });
});
