// Damage to one object must cost only what depends on it (found by the corruption trials of the
// reliability suite, issue 11): a damaged manifest or index object used to stop every later backup
// into the repository, and a damaged index object every restore.
import { expect } from 'chai';
import { open } from 'node:fs/promises';
import { backupDisk } from '../../../controller/datapath/backup.js';
import { restoreDisk } from '../../../controller/datapath/restore.js';
import type { Repository } from '../../../controller/repository/repository.js';
import { MiB, makeRawImage, tempDir, type TempDir } from '../../support/disk-images.js';
import { makeRepository } from '../../support/repositories.js';

async function flipByte(path: string, offset: number): Promise<void> {
  const h = await open(path, 'r+');
  const byte = Buffer.alloc(1);
  await h.read(byte, 0, 1, offset);
  byte[0] = byte[0]! ^ 0x40;
  await h.write(byte, 0, 1, offset);
  await h.close();
}

describe('a repository with one damaged object', function () {
  this.timeout(120_000);
  let dir: TempDir;
  let repo: Repository;
  beforeEach(async () => {
    dir = await tempDir();
    ({ repo } = await makeRepository(dir.file('repo'), { chunkSize: 64 * 1024 }));
    await makeRawImage(dir.file('a.raw'), 2 * MiB, [{ offset: 0, length: MiB }]);
    await makeRawImage(dir.file('b.raw'), 2 * MiB, [{ offset: MiB, length: MiB }]);
  });
  afterEach(() => dir.remove());

  it('still backs up a disk whose newest recovery point is damaged, comparing against the one before', async () => {
    const first = await backupDisk(repo, dir.file('a.raw'), { name: 'a', threads: 1 });
    const second = await backupDisk(repo, dir.file('a.raw'), { name: 'a', threads: 1 });
    await flipByte(dir.file(`repo/manifests/${second.id}`), 40);

    const third = await backupDisk(repo, dir.file('a.raw'), { name: 'a', threads: 1 });
    expect(third.parent).to.equal(first.id);
    expect(third.changeDetection).to.equal('checksum');
    await restoreDisk(repo, third.id, dir.file('third.raw'));
  });

  it('restores recovery points a damaged index object does not concern, and names it for those it does', async () => {
    const a = await backupDisk(repo, dir.file('a.raw'), { name: 'a', threads: 1 });
    const indexesOfA = (await repo.storage.list('index/')).map((o) => o.key);
    const b = await backupDisk(repo, dir.file('b.raw'), { name: 'b', threads: 1 });
    await flipByte(dir.file(`repo/${indexesOfA[0]!}`), 30);

    await restoreDisk(repo, b.id, dir.file('b-restored.raw'));
    const err = await restoreDisk(repo, a.id, dir.file('a-restored.raw')).catch((e: unknown) => e);
    expect((err as Error).message).to.match(
      new RegExp(
        `not in the index \\(index objects that could not be read: ${indexesOfA[0]!}; run 'repo check'\\)`,
      ),
    );
  });

  it('backs up again in full over a damaged index object, after which the earlier recovery point restores again', async () => {
    const a = await backupDisk(repo, dir.file('a.raw'), { name: 'a', threads: 1 });
    const [index] = (await repo.storage.list('index/')).map((o) => o.key);
    await flipByte(dir.file(`repo/${index!}`), 30);

    const again = await backupDisk(repo, dir.file('a.raw'), { name: 'a', threads: 1 });
    // The parent's chunks are not listed, so nothing could be reused: everything was read and stored.
    expect(again.parent).to.equal(null);
    expect(again.changeDetection).to.equal('full');
    expect(again.stats.newChunks).to.equal(16);
    await restoreDisk(repo, a.id, dir.file('a-restored.raw'));
  });
});
