import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { backupDisk } from '../../../controller/datapath/backup.js';
import { restoreDisk } from '../../../controller/datapath/restore.js';
import { openStoredDisk } from '../../../controller/datapath/stored-disk.js';
import type { Repository } from '../../../controller/repository/repository.js';
import {
  MiB,
  convertImage,
  makeRawImage,
  qemuImg,
  qemuIo,
  qemuRawView,
  tempDir,
  type TempDir,
} from '../../support/disk-images.js';
import { makeRepository } from '../../support/repositories.js';

const run = promisify(execFile);

describe('backing up and restoring a VHDX', function () {
  // Real qemu images and child processes: generous for CI's 2 shared cores.
  this.timeout(120_000);
  let dir: TempDir;
  let repo: Repository;
  let vhdx: string;
  const size = 48 * MiB;

  before(async () => {
    dir = await tempDir();
    ({ repo } = await makeRepository(dir.file('repo'), { chunkSize: MiB }));
    await makeRawImage(dir.file('disk.raw'), size, [
      { offset: 0, length: 2 * MiB },
      { offset: 20 * MiB + 4096, length: 5 * MiB },
    ]);
    vhdx = await convertImage(dir.file('disk.raw'), dir.file('vm.vhdx'), 'vhdx', ['block_size=8M']);
  });
  after(() => dir.remove());

  it('stores only allocated data and restores the disk byte for byte as raw', async () => {
    const manifest = await backupDisk(repo, vhdx, { name: 'vm/disk0', threads: 2 });
    expect(manifest.disk.virtualSize).to.equal(size);
    expect(manifest.changeDetection).to.equal('full');
    // Only the allocated 8 MiB blocks (0-8 and 16-32 MiB) are read.
    expect(manifest.stats.bytesRead).to.equal(24 * MiB);
    expect(manifest.chunks.filter((c) => c !== null)).to.have.length(8);
    await restoreDisk(repo, manifest.id, dir.file('restored.raw'));
    expect((await readFile(dir.file('restored.raw'))).equals(await readFile(dir.file('disk.raw')))).to.be
      .true;
  });

  it('restores as a dynamic VHDX that qemu-img checks clean and compares identical to the source', async () => {
    const manifest = await repo.latestManifest('vm/disk0');
    await restoreDisk(repo, manifest!.id, dir.file('restored.vhdx'), { format: 'vhdx' });
    await qemuImg('check', '-f', 'vhdx', dir.file('restored.vhdx'));
    const { stdout } = await run('qemu-img', [
      'compare',
      '-f',
      'vhdx',
      '-F',
      'vhdx',
      vhdx,
      dir.file('restored.vhdx'),
    ]);
    expect(stdout).to.contain('Images are identical');
  });

  it('moves only changed chunks in the next backup, found by checksum', async () => {
    await qemuIo(vhdx, 'vhdx', 'write -P 0x11 21M 4k', 'write -P 0x22 40M 64k');
    const manifest = await backupDisk(repo, vhdx, { name: 'vm/disk0', threads: 2 });
    expect(manifest.changeDetection).to.equal('checksum');
    expect(manifest.stats.bytesChanged).to.equal(2 * MiB);
    expect(manifest.stats.newChunks).to.equal(2);
    await restoreDisk(repo, manifest.id, dir.file('second.raw'));
    expect((await readFile(dir.file('second.raw'))).equals(await qemuRawView(vhdx, 'vhdx', dir))).to.be.true;
  });

  it('reads only the ranges the hypervisor reports changed', async () => {
    await qemuIo(vhdx, 'vhdx', 'write -P 0x33 3M 4k');
    const manifest = await backupDisk(repo, vhdx, {
      name: 'vm/disk0',
      threads: 2,
      changedRanges: [{ offset: 3 * MiB, length: 4096 }],
    });
    expect(manifest.changeDetection).to.equal('changed-ranges');
    expect(manifest.stats.bytesRead).to.equal(MiB);
    expect(manifest.stats.bytesChanged).to.equal(MiB);
    await restoreDisk(repo, manifest.id, dir.file('third.raw'));
    expect((await readFile(dir.file('third.raw'))).equals(await qemuRawView(vhdx, 'vhdx', dir))).to.be.true;
  });

  it('processes a small changed-range backup on its own thread, with the chunks worker threads would make', async () => {
    await qemuIo(vhdx, 'vhdx', 'write -P 0x44 22M 64k', 'write -P 0x55 1M 4k');
    const parent = await repo.latestManifest('vm/disk0');
    const changedRanges = [
      { offset: MiB, length: 4096 },
      { offset: 22 * MiB, length: 64 * 1024 },
    ];
    const inline = await backupDisk(repo, vhdx, { name: 'vm/disk0', changedRanges });
    const threaded = await backupDisk(repo, vhdx, {
      name: 'vm/threaded',
      parentId: parent!.id,
      changedRanges,
      threads: 2,
    });
    expect(inline.stats.bytesRead).to.equal(2 * MiB);
    expect(inline.chunks).to.deep.equal(threaded.chunks);
    await restoreDisk(repo, inline.id, dir.file('inline.raw'));
    expect((await readFile(dir.file('inline.raw'))).equals(await qemuRawView(vhdx, 'vhdx', dir))).to.be.true;
  });

  it('reads any byte range of a stored disk straight from the repository, fetching only what it needs', async () => {
    const manifest = await repo.latestManifest('vm/disk0');
    const expected = await qemuRawView(vhdx, 'vhdx', dir);
    const stored = await openStoredDisk(repo, manifest!.id);
    for (const [offset, length] of [
      [0, 512],
      [MiB - 100, 300],
      [20 * MiB + 4000, 3 * MiB],
      [size - 4096, 4096],
    ] as const) {
      expect((await stored.read(offset, length)).equals(expected.subarray(offset, offset + length))).to.be
        .true;
    }
    expect(stored.bytesFetched).to.be.below(8 * MiB);
    await stored.read(size - 1, 2).then(
      () => expect.fail('read past the end succeeded'),
      (err: unknown) => expect(err).to.be.instanceOf(RangeError),
    );
  });

  it('keeps encrypted catalogs next to a manifest', async () => {
    const manifest = await repo.latestManifest('vm/disk0');
    await repo.putCatalog(manifest!.id, 'ntfs-p1', Buffer.from('{"files":[]}'));
    expect((await repo.getCatalog(manifest!.id, 'ntfs-p1'))?.toString()).to.equal('{"files":[]}');
    expect(await repo.getCatalog(manifest!.id, 'absent')).to.equal(undefined);
    expect(await repo.listCatalogs(manifest!.id)).to.deep.equal(['ntfs-p1']);
  });
});
