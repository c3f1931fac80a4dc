import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { backupDisk } from '../../../controller/datapath/backup.js';
import { openStoredDisk } from '../../../controller/datapath/stored-disk.js';
import { catalogRecoveryPoint, loadCatalogs } from '../../../controller/ilr/catalog-store.js';
import { extract } from '../../../controller/ilr/extract.js';
import { findVersions } from '../../../controller/ilr/find.js';
import { openVolume } from '../../../controller/ilr/open-volume.js';
import type { Manifest } from '../../../controller/repository/manifest.js';
import { Repository } from '../../../controller/repository/repository.js';
import { openStorage } from '../../../controller/storage/open.js';
import { sharedNtfsFixture, type NtfsFixture } from '../../support/ntfs-images.js';

const CLI = join(import.meta.dirname, '..', '..', '..', '..', 'bin', 'shadowkeep');
const KEY = Buffer.from('item-level recovery test key material\n');

describe('item-level recovery from a repository', () => {
  let fixture: NtfsFixture;
  let dir: string;
  let repo: Repository;
  let first: Manifest;
  let second: Manifest;

  before(async function () {
    this.timeout(120000);
    fixture = await sharedNtfsFixture();
    dir = await mkdtemp(join(tmpdir(), 'shadowkeep-ilr-repo-'));
    repo = await Repository.init(openStorage(pathToFileURL(join(dir, 'repo')).href), KEY);
    await writeFile(join(dir, 'key'), KEY);
    first = await backupDisk(repo, fixture.gpt, { name: 'fileserver/disk0' });
    second = await backupDisk(repo, fixture.mbr, { name: 'fileserver/disk0' });
    await backupDisk(repo, fixture.bare, { name: 'other-vm/disk0' });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('fetches one file straight from the stored disk, byte for byte, reading little more than the file', async () => {
    const disk = await openStoredDisk(repo, first.id);
    const { volume } = await openVolume(disk);
    const out = join(dir, 'out-one');
    await mkdir(out);
    await extract(volume, '/big.bin', out);
    const expected = await readFile(join(fixture.source, 'big.bin'));
    expect((await readFile(join(out, 'big.bin'))).equals(expected)).to.be.true;
    // The file plus boot sector, MFT and index chunks: far from the disk's size.
    expect(disk.bytesFetched).to.be.lessThan(expected.length + 4 * first.chunkSize);
    expect(disk.bytesFetched).to.be.lessThan(first.disk.virtualSize / 4);
  });

  it('stores a catalog per NTFS volume and answers find across recovery points from catalogs alone', async () => {
    const [a, b] = await Promise.all([catalogRecoveryPoint(repo, first), catalogRecoveryPoint(repo, second)]);
    expect(a.catalogs.map((c) => c.partition)).to.deep.equal([2]);
    expect(b.catalogs.map((c) => c.partition)).to.deep.equal([5]);
    const { points, uncatalogued } = await loadCatalogs(repo, { vm: 'FileServer' });
    expect(uncatalogued).to.deep.equal([]);
    const versions = findVersions(points, 'big.bin').get('/big.bin');
    expect(versions?.map((v) => [v.manifestId, v.partition])).to.deep.equal([
      [second.id, 5],
      [first.id, 2],
    ]);
    const all = await loadCatalogs(repo);
    expect(all.uncatalogued).to.have.length(1);
  });

  it('stores no catalog, and reports no failure, for a recovery point without an NTFS volume', async () => {
    const blank = join(dir, 'blank.img');
    await writeFile(blank, Buffer.alloc(4 * 1024 * 1024));
    const manifest = await backupDisk(repo, blank, { name: 'blank/disk0' });
    expect(await catalogRecoveryPoint(repo, manifest)).to.deep.equal({ catalogs: [] });
  });

  it('runs files ls, get and find on the command line against the repository', async function () {
    this.timeout(60000);
    const run = promisify(execFile);
    const env = {
      ...process.env,
      SHADOWKEEP_REPO: pathToFileURL(join(dir, 'repo')).href,
      SHADOWKEEP_KEY_FILE: join(dir, 'key'),
    };
    const ls = await run(CLI, ['files', 'ls', '--manifest', first.id, '/unicode'], { env });
    expect(ls.stdout).to.include('Ünïcødé 名前.txt');
    const out = await mkdtemp(join(dir, 'cli-out-'));
    const get = await run(CLI, ['files', 'get', '--manifest', second.id, '/unicode', '--out', out], { env });
    expect(get.stdout).to.match(/^3 files, 1 directories/);
    expect(get.stderr).to.match(/read [\d.]+ (KiB|MiB) from the repository/);
    expect(await readFile(join(out, 'unicode', 'Ünïcødé 名前.txt'), 'utf8')).to.equal('unicode\n');
    const find = await run(CLI, ['files', 'find', '/links/original.dat', '--vm', 'fileserver', '--json'], {
      env,
    });
    const { matches } = JSON.parse(find.stdout) as {
      matches: { path: string; versions: { manifestId: string }[] }[];
    };
    expect(matches.map((m) => [m.path, m.versions.map((v) => v.manifestId)])).to.deep.equal([
      ['/links/original.dat', [second.id, first.id]],
    ]);
    const missing = await run(CLI, ['files', 'get', '--manifest', first.id, '/nope', '--out', out], {
      env,
    }).catch((e: unknown) => e);
    expect((missing as { code: number; stderr: string }).code).to.equal(1);
    expect((missing as { stderr: string }).stderr).to.equal(
      'shadowkeep files: /nope: no such file or directory\n',
    );
  });
});
