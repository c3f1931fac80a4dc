import { expect } from 'chai';
import { open, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { copyManifests } from '../../../controller/copy/copy-point.js';
import { healFromCopy } from '../../../controller/copy/heal.js';
import { backupDisk } from '../../../controller/datapath/backup.js';
import { restoreDisk } from '../../../controller/datapath/restore.js';
import { checkRepository } from '../../../controller/repository/check.js';
import { collectGarbage } from '../../../controller/repository/gc.js';
import { Repository } from '../../../controller/repository/repository.js';
import { FilesystemStorage } from '../../../controller/storage/filesystem.js';
import { MiB, makeRawImage, tempDir, type TempDir } from '../../support/disk-images.js';
import { makeRepository } from '../../support/repositories.js';

async function flipByte(path: string, offset: number): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, offset);
    byte[0] = (byte[0] ?? 0) ^ 0xff;
    await handle.write(byte, 0, 1, offset);
  } finally {
    await handle.close();
  }
}

async function packFiles(root: string): Promise<string[]> {
  return (await readdir(join(root, 'packs'), { recursive: true }))
    .filter((n) => n.includes('/'))
    .map((n) => join(root, 'packs', n))
    .sort();
}

describe('healing a damaged repository from its offsite copy', function () {
  this.timeout(60_000);
  let dir: TempDir;
  let primary: Repository;
  let offsite: Repository;
  let first: string;
  let second: string;

  beforeEach(async () => {
    dir = await tempDir();
    ({ repo: primary } = await makeRepository(dir.file('primary'), {
      chunkSize: 64 * 1024,
      packSize: 256 * 1024,
    }));
    await makeRawImage(dir.file('a.raw'), 4 * MiB, [{ offset: 0, length: 2 * MiB }]);
    await makeRawImage(dir.file('b.raw'), 4 * MiB, [{ offset: MiB, length: 2 * MiB }]);
    first = (await backupDisk(primary, dir.file('a.raw'), { name: 'a', full: true })).id;
    second = (await backupDisk(primary, dir.file('b.raw'), { name: 'b', full: true })).id;
    offsite = await Repository.initCopyOf(
      new FilesystemStorage(dir.file('offsite')),
      Buffer.alloc(32, 7),
      primary,
    );
  });
  afterEach(() => dir.remove());

  async function restoresIntact(): Promise<void> {
    for (const [id, source] of [
      [first, 'a.raw'],
      [second, 'b.raw'],
    ] as const) {
      await restoreDisk(primary, id, dir.file(`${id}.out`));
      expect(
        (await readFile(dir.file(`${id}.out`))).equals(await readFile(dir.file(source))),
        source,
      ).to.equal(true);
    }
  }

  it('re-fetches damaged and missing chunks from the copy, and every recovery point restores again', async () => {
    await copyManifests(primary, offsite, [first, second]);
    const packs = await packFiles(dir.file('primary'));
    await flipByte(packs[0]!, 100);
    await rm(packs[1]!);
    const report = await healFromCopy(primary, offsite);
    expect(report.found).to.not.be.empty;
    expect(report.chunksFromCopy).to.be.greaterThan(0);
    expect(report.packsReplaced).to.have.length(2);
    expect(report.remaining).to.deep.equal([]);
    await restoresIntact();
    // Garbage collection afterwards drops the index entries of the removed packs.
    await collectGarbage(primary, { graceMs: 0 });
    expect((await checkRepository(primary, { readData: true })).problems).to.deep.equal([]);
    await restoresIntact();
  });

  it('replaces a damaged manifest with the copy of it', async () => {
    await copyManifests(primary, offsite, [first, second]);
    await flipByte(dir.file(`primary/manifests/${first}`), 40);
    const report = await healFromCopy(primary, offsite);
    expect(report.manifestsReplaced).to.deep.equal([first]);
    expect(report.remaining).to.deep.equal([]);
    await restoresIntact();
  });

  it('lists the recovery points it could not heal when the copy lacks their data', async () => {
    await copyManifests(primary, offsite, [first]);
    const firstChunks = new Set((await primary.loadManifest(first)).chunks);
    const onlySecond = (await primary.loadManifest(second)).chunks.find(
      (c) => c !== null && !firstChunks.has(c),
    );
    const pack = (await primary.loadIndex()).get(onlySecond!)!.pack;
    await rm(join(dir.file('primary'), 'packs', pack.slice(0, 2), pack));
    const report = await healFromCopy(primary, offsite);
    expect(report.remaining.flatMap((p) => p.affectedManifests)).to.include(second);
    expect(report.remaining.flatMap((p) => p.affectedManifests)).to.not.include(first);
  });
});
