import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { copyManifests, planReads } from '../../../controller/copy/copy-point.js';
import { Throttle } from '../../../controller/copy/throttle.js';
import { backupDisk } from '../../../controller/datapath/backup.js';
import { restoreDisk } from '../../../controller/datapath/restore.js';
import { checkRepository } from '../../../controller/repository/check.js';
import { Repository } from '../../../controller/repository/repository.js';
import { FilesystemStorage } from '../../../controller/storage/filesystem.js';
import { MiB, makeRawImage, tempDir, type TempDir } from '../../support/disk-images.js';
import { FaultyStorage } from '../../support/faulty-storage.js';
import { makeRepository } from '../../support/repositories.js';

const offsiteKey = Buffer.from('offsite site password, not the primary one');

async function overwrite(path: string, offset: number, length: number): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.write(randomBytes(length), 0, length, offset);
  } finally {
    await handle.close();
  }
}

describe('copying recovery points offsite', function () {
  this.timeout(60_000);
  let dir: TempDir;
  let primary: Repository;
  let first: string;
  let second: string;
  let otherVm: string;

  before(async () => {
    dir = await tempDir();
    ({ repo: primary } = await makeRepository(dir.file('primary'), {
      chunkSize: 64 * 1024,
      packSize: 512 * 1024,
    }));
    await makeRawImage(dir.file('vm1.raw'), 16 * MiB, [
      { offset: 0, length: 3 * MiB },
      { offset: 9 * MiB, length: 2 * MiB },
    ]);
    first = (await backupDisk(primary, dir.file('vm1.raw'), { name: 'vm1/disk0', full: true })).id;
    await overwrite(dir.file('vm1.raw'), 1 * MiB, 256 * 1024);
    second = (await backupDisk(primary, dir.file('vm1.raw'), { name: 'vm1/disk0', parentId: first })).id;
    // A clone of the same template: its blocks are already stored under vm1's chunks.
    otherVm = (await backupDisk(primary, dir.file('vm1.raw'), { name: 'vm2/disk0', full: true })).id;
  });
  after(() => dir.remove());

  async function twin(name: string): Promise<Repository> {
    return Repository.initCopyOf(new FilesystemStorage(dir.file(name)), offsiteKey, primary);
  }

  it('copies a recovery point to an empty offsite repository that restores it byte for byte', async () => {
    const offsite = await twin('offsite-a');
    const report = await copyManifests(primary, offsite, [first]);
    expect(report.chunksCopied).to.equal(80);
    expect(report.chunksPresent).to.equal(0);

    const reopened = await Repository.open(new FilesystemStorage(dir.file('offsite-a')), offsiteKey);
    const check = await checkRepository(reopened, { readData: true });
    expect(check.problems).to.deep.equal([]);
    await restoreDisk(reopened, first, dir.file('from-offsite.raw'));
    const restored = await readFile(dir.file('from-offsite.raw'));
    await restoreDisk(primary, first, dir.file('from-primary.raw'));
    expect(restored.equals(await readFile(dir.file('from-primary.raw')))).to.equal(true);
  });

  it('sends only the chunks the offsite repository lacks for the next recovery point', async () => {
    const offsite = await twin('offsite-b');
    const full = await copyManifests(primary, offsite, [first]);
    const incremental = await copyManifests(primary, offsite, [second]);
    expect(incremental.chunksCopied).to.equal(4);
    expect(incremental.chunksPresent).to.equal(76);
    expect(incremental.bytesSent).to.be.below(full.bytesSent / 10);
  });

  it('does not send the blocks of a second VM that the first VM already sent', async () => {
    const offsite = await twin('offsite-c');
    await copyManifests(primary, offsite, [second]);
    const clone = await copyManifests(primary, offsite, [otherVm]);
    expect(clone.chunksCopied).to.equal(0);
    expect((await checkRepository(offsite, { readData: true })).problems).to.deep.equal([]);
  });

  it('is a no-op for a recovery point the target already holds', async () => {
    const offsite = await twin('offsite-d');
    await copyManifests(primary, offsite, [first]);
    const again = await copyManifests(primary, offsite, [first]);
    expect(again).to.include({ chunksCopied: 0, bytesSent: 0 });
  });

  it('resumes a copy killed midway without sending the finished part again, leaving the target valid', async () => {
    const storage = new FaultyStorage(new FilesystemStorage(dir.file('offsite-e')));
    const offsite = await Repository.initCopyOf(storage, offsiteKey, primary);
    storage.writesLeft = 7;
    let error: unknown;
    try {
      await copyManifests(primary, offsite, [first], { batchBytes: MiB });
    } catch (err) {
      error = err;
    }
    expect(String(error)).to.match(/connection lost/);
    expect(await offsite.listManifestIds()).to.deep.equal([]);
    expect((await checkRepository(offsite, { readData: true })).problems).to.deep.equal([]);

    storage.writesLeft = Infinity;
    const resumed = await copyManifests(primary, offsite, [first], { batchBytes: MiB });
    expect(resumed.chunksPresent).to.be.greaterThan(0);
    expect(resumed.chunksPresent + resumed.chunksCopied).to.equal(80);
    expect(await offsite.listManifestIds()).to.deep.equal([first]);
    expect((await checkRepository(offsite, { readData: true })).problems).to.deep.equal([]);
  });

  it('refuses a target repository made with another key, saying what to do', async () => {
    const { repo: stranger } = await makeRepository(dir.file('stranger'));
    let error: unknown;
    try {
      await copyManifests(primary, stranger, [first]);
    } catch (err) {
      error = err;
    }
    expect(String(error)).to.match(/another key.*must be empty when first used/);
  });

  it('refuses to lock copies on a filesystem repository instead of pretending to', async () => {
    const offsite = await twin('offsite-g');
    let error: unknown;
    try {
      await copyManifests(primary, offsite, [first], { retainUntil: new Date(Date.now() + 86_400_000) });
    } catch (err) {
      error = err;
    }
    expect(String(error)).to.match(/cannot lock objects; use an S3 bucket with Object Lock/);
  });
});

describe('planning the reads of a copy', () => {
  it('merges adjacent blobs of one pack into one read and keeps separate packs apart', () => {
    const reads = planReads([
      { id: 'b', location: { pack: 'p1', offset: 100, length: 50 } },
      { id: 'a', location: { pack: 'p1', offset: 0, length: 100 } },
      { id: 'c', location: { pack: 'p1', offset: 400, length: 10 } },
      { id: 'd', location: { pack: 'p2', offset: 0, length: 10 } },
    ]);
    expect(reads.map((r) => [r.pack, r.offset, r.length, r.chunks.map((c) => c.id).join('')])).to.deep.equal([
      ['p1', 0, 150, 'ab'],
      ['p1', 400, 10, 'c'],
      ['p2', 0, 10, 'd'],
    ]);
  });
});

describe('the bandwidth limit', () => {
  it('lets a second of burst through and then holds the average to the limit', async () => {
    let now = 0;
    const slept: number[] = [];
    const throttle = new Throttle(
      1000,
      () => now,
      (ms) => {
        slept.push(ms);
        now += ms;
        return Promise.resolve();
      },
    );
    await throttle.take(1000);
    await throttle.take(500);
    await throttle.take(500);
    expect(slept).to.deep.equal([500, 500]);
    expect(now).to.equal(1000);
  });
});
