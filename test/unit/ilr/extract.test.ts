import { expect } from 'chai';
import { lstat, mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { openVirtualDisk, type VirtualDisk } from '../../../controller/disk/index.js';
import { extract } from '../../../controller/ilr/extract.js';
import { listPath } from '../../../controller/ilr/listing.js';
import { openVolume } from '../../../controller/ilr/open-volume.js';
import { UnsupportedError } from '../../../controller/ntfs/errors.js';
import type { NtfsVolume } from '../../../controller/ntfs/volume.js';
import {
  ADS,
  bufferSource,
  HARD_LINKS,
  MANY_FILES,
  sharedNtfsFixture,
  type NtfsFixture,
} from '../../support/ntfs-images.js';

/** Every file below `root`, relative, with its bytes: the oracle restored trees are compared with (links are never restored). */
async function tree(root: string): Promise<Map<string, Buffer | 'dir'>> {
  const result = new Map<string, Buffer | 'dir'>();
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (entry.isSymbolicLink()) {
      continue;
    }
    const path = join(entry.parentPath, entry.name);
    result.set(relative(root, path), entry.isDirectory() ? 'dir' : await readFile(path));
  }
  return result;
}

describe('item-level recovery from a disk image', () => {
  let fixture: NtfsFixture;
  let disks: VirtualDisk[];
  let out: string;

  before(async function () {
    this.timeout(120000);
    fixture = await sharedNtfsFixture();
    disks = await Promise.all([openVirtualDisk(fixture.gpt), openVirtualDisk(fixture.mbr)]);
  });
  beforeEach(async () => {
    out = await mkdtemp(join(tmpdir(), 'shadowkeep-ilr-out-'));
  });
  afterEach(() => rm(out, { recursive: true, force: true }));
  after(() => Promise.all(disks.map((d) => d.close())));

  const volumeOf = async (i: number): Promise<NtfsVolume> => (await openVolume(disks[i]!)).volume;

  it('picks the NTFS partition by default: GPT partition 2, MBR logical partition 5', async () => {
    expect((await openVolume(disks[0]!)).info.partition?.number).to.equal(2);
    expect((await openVolume(disks[1]!)).info.partition?.number).to.equal(5);
  });

  it('refuses a partition that holds no NTFS volume, naming it', async () => {
    const err = await openVolume(disks[0]!, 1).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(UnsupportedError);
    expect((err as Error).message).to.equal('partition 1 holds no NTFS volume (unknown)');
  });

  it('detects a ReFS volume and reports it as not browsable yet', async () => {
    const volume = Buffer.alloc(1024 * 1024);
    volume.write('ReFS\0\0\0\0FSRS', 3, 'latin1');
    const err = await openVolume(bufferSource(volume)).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(UnsupportedError);
    expect((err as Error).message).to.match(/ReFS volume; browsing ReFS is not supported yet/);
  });

  it('restores the whole volume from the MBR logical partition identical to the source tree', async function () {
    this.timeout(60000);
    const report = await extract(await volumeOf(1), '/', out);
    const expected = await tree(fixture.source);
    const restored = await tree(out);
    expect([...restored.keys()].sort()).to.deep.equal([...expected.keys()].sort());
    for (const [path, data] of expected) {
      const got = restored.get(path);
      expect(data === 'dir' ? got === 'dir' : Buffer.isBuffer(got) && got.equals(data), path).to.be.true;
    }
    expect(report.renamed).to.deep.equal([]);
    expect(report.skipped.map((x) => x.ntfsPath)).to.deep.equal([
      '/symlinks/to-directory',
      '/symlinks/to-file',
      `${ADS.path}:${ADS.name}`,
    ]);
    expect(report.skipped.map((x) => x.reason)).to.satisfy((reasons: string[]) =>
      [
        /^a symbolic link to "\.\.\\unicode"; not followed$/,
        /is a symbolic link to .*; its content is not read$/,
        /^alternate data stream not copied/,
      ].every((pattern, i) => pattern.test(reasons[i] ?? '')),
    );
    expect(report.files).to.equal([...expected.values()].filter((v) => v !== 'dir').length);
    expect(report.files).to.be.greaterThan(MANY_FILES + HARD_LINKS);
  });

  it('restores one file with its modification time', async () => {
    const report = await extract(await volumeOf(0), '/many/file-01234.txt', out);
    expect(report).to.include({ files: 1, bytes: 16 });
    expect(await readFile(join(out, 'file-01234.txt'), 'utf8')).to.equal('small file 1234\n');
    const [source, restored] = await Promise.all([
      stat(join(fixture.source, 'many/file-01234.txt')),
      stat(join(out, 'file-01234.txt')),
    ]);
    expect(Math.abs(restored.mtimeMs - source.mtimeMs)).to.be.lessThan(1);
  });

  it('restores a directory recursively under its own name', async () => {
    await extract(await volumeOf(0), '/unicode', out);
    expect((await readdir(join(out, 'unicode'))).sort()).to.deep.equal(
      (await readdir(join(fixture.source, 'unicode'))).sort(),
    );
  });

  it('restores an alternate data stream as NAME_STREAM', async () => {
    await extract(await volumeOf(0), ADS.path, out, { stream: ADS.name });
    expect((await readFile(join(out, `with-stream.txt_${ADS.name}`))).equals(ADS.data)).to.be.true;
  });

  it('never follows a symlink planted in the output directory', async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), 'shadowkeep-ilr-elsewhere-'));
    try {
      await symlink(join(elsewhere, 'empty.txt'), join(out, 'empty.txt'));
      const err = await extract(await volumeOf(0), '/empty.txt', out).catch((e: unknown) => e);
      expect((err as NodeJS.ErrnoException).code).to.equal('EEXIST');
      expect(await readdir(elsewhere)).to.deep.equal([]);
      await symlink(elsewhere, join(out, 'unicode'));
      const dirErr = await extract(await volumeOf(0), '/unicode', out).catch((e: unknown) => e);
      expect(dirErr).to.be.instanceOf(Error);
      expect(await readdir(elsewhere)).to.deep.equal([]);
      expect((await lstat(join(out, 'unicode'))).isSymbolicLink()).to.be.true;
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('lists a directory with sizes, times and alternate streams', async () => {
    const entries = await listPath(await volumeOf(0), '/');
    const withStream = entries.find((e) => e.name === 'with-stream.txt');
    expect(withStream?.streams).to.deep.equal([{ name: ADS.name, size: ADS.data.length }]);
    expect(entries.find((e) => e.name === 'sparse.bin')).to.include({
      size: 8 * 1024 * 1024,
      sparse: true,
      isDirectory: false,
    });
    expect(entries.find((e) => e.name === 'many')).to.include({ isDirectory: true });
  });
});
