import { expect } from 'chai';
import { lstat, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { openVirtualDisk, type VirtualDisk } from '../../../controller/disk/index.js';
import { buildCatalog, chunkSpans, type Catalog } from '../../../controller/ilr/catalog.js';
import { CatalogFormatError, decodeCatalog, encodeCatalog } from '../../../controller/ilr/catalog-codec.js';
import { NtfsVolume } from '../../../controller/ntfs/volume.js';
import { HARD_LINKS, patchedSource, sharedNtfsFixture, type NtfsFixture } from '../../support/ntfs-images.js';

describe('file catalog', () => {
  let fixture: NtfsFixture;
  let disk: VirtualDisk;
  let volume: NtfsVolume;
  let catalog: Catalog;

  before(async function () {
    this.timeout(120000);
    fixture = await sharedNtfsFixture();
    disk = await openVirtualDisk(fixture.bare);
    volume = await NtfsVolume.open(disk);
    // Chunks of one cluster make chunk numbers cluster numbers, which the checks below rely on.
    catalog = await buildCatalog(volume, { partition: null, volumeOffset: 0, chunkSize: 4096 });
  });
  after(() => disk.close());

  it('records every file and directory of the volume with its size and modification time', async () => {
    const expected = new Map<string, { size: number; modified: number; isDirectory: boolean }>();
    for (const entry of await readdir(fixture.source, { recursive: true, withFileTypes: true })) {
      const path = join(entry.parentPath, entry.name);
      // Links are cataloged as what NTFS stores: an empty file, or a directory with an empty index.
      if (entry.isSymbolicLink()) {
        const isDirectory = (await stat(path)).isDirectory();
        expected.set(`/${relative(fixture.source, path)}`, {
          size: 0,
          modified: Math.floor((await lstat(path)).mtimeMs),
          isDirectory,
        });
        continue;
      }
      const s = await stat(path);
      expected.set(`/${relative(fixture.source, path)}`, {
        size: entry.isDirectory() ? 0 : s.size,
        modified: Math.floor(s.mtimeMs),
        isDirectory: entry.isDirectory(),
      });
    }
    expect(catalog.entries.map((e) => e.path).sort()).to.deep.equal([...expected.keys()].sort());
    for (const e of catalog.entries) {
      const want = expected.get(e.path);
      expect({ size: e.size, isDirectory: e.isDirectory }, e.path).to.deep.equal({
        size: want?.size,
        isDirectory: want?.isDirectory,
      });
      // ntfscp rewrites the fragmented files after wimapply, so only they carry the build time.
      if (!e.path.startsWith('/frag-')) {
        expect(Math.abs(e.modified - (want?.modified ?? 0)), e.path).to.be.at.most(1);
      }
    }
    expect(catalog.entries.filter((e) => e.path.startsWith('/links/'))).to.have.length(HARD_LINKS + 1);
    expect(catalog.unreadableRecords).to.equal(0);
  });

  it('records which chunks hold a file: reading just those chunks gives the file back', async () => {
    for (const path of ['/big.bin', '/frag-a.bin']) {
      const entry = catalog.entries.find((e) => e.path === path);
      const parts = await Promise.all(
        (entry?.chunks ?? []).map(([first, last]) => disk.read(first * 4096, (last - first + 1) * 4096)),
      );
      const data = await volume.openStream(await volume.resolve(path)).read(0, entry?.size ?? 0);
      // frag-a's runs interleave with frag-b's in ascending cluster order, so concatenation keeps file order.
      expect(Buffer.concat(parts).subarray(0, data.length).equals(data), path).to.be.true;
    }
  });

  it('points a small file held inside its MFT record at the chunk of that record', () => {
    const entry = catalog.entries.find((e) => e.path === '/many/file-00042.txt');
    expect(entry?.chunks).to.have.length(1);
    const [first, last] = entry?.chunks[0] ?? [0, 0];
    expect(first).to.equal(last);
    const mftStart = volume.geometry.mftLcn;
    expect(first).to.be.within(mftStart, mftStart + Math.ceil((volume.recordCount * 1024) / 4096));
  });

  it('survives an encode/decode round trip and stays compact', () => {
    const data = encodeCatalog(catalog);
    expect(decodeCatalog(data, 'test')).to.deep.equal(catalog);
    expect(data.length / catalog.entries.length).to.be.lessThan(80);
  });

  it('refuses a catalog written by a newer Shadowkeep', () => {
    expect(() => decodeCatalog(Buffer.from('{"version":99}\n'), 'catalog x')).to.throw(
      CatalogFormatError,
      /catalog x has catalog version 99/,
    );
  });

  it('counts damaged MFT records instead of failing the whole catalog', async () => {
    const file = await volume.resolve('/many/file-00007.txt');
    const offset = volume.geometry.mftLcn * 4096 + file.reference.record * 1024 + 1022;
    const damaged = await NtfsVolume.open(
      patchedSource(disk, [{ offset, bytes: Buffer.from([0xde, 0xad]) }]),
    );
    const partial = await buildCatalog(damaged, { partition: null, volumeOffset: 0, chunkSize: 4096 });
    expect(partial.unreadableRecords).to.equal(1);
    expect(partial.entries).to.have.length(catalog.entries.length - 1);
  });

  it('merges byte ranges into sorted chunk spans', () => {
    const ranges = [
      { offset: 5 * 1024, length: 1024 },
      { offset: 0, length: 4096 },
      { offset: 8192, length: 1 },
      { offset: 100000, length: 0 },
    ];
    expect(chunkSpans(ranges, 4096)).to.deep.equal([[0, 2]]);
  });
});
