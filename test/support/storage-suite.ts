/**
 * The repository suite every storage backend must pass with the same assertions: the promises
 * written in controller/storage/storage.ts, then a repository on top (init, open, wrong key,
 * backup and restore through the data path, check --read-data, garbage collection).
 * test/unit/repository runs it on the filesystem; test/integration/storage on real S3 and Azure
 * servers.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { backupDisk } from '../../controller/datapath/backup.js';
import { restoreDisk } from '../../controller/datapath/restore.js';
import { checkRepository } from '../../controller/repository/check.js';
import { UnsupportedFormatError, WrongKeyError } from '../../controller/repository/errors.js';
import { collectGarbage } from '../../controller/repository/gc.js';
import { CONFIG_KEY } from '../../controller/repository/layout.js';
import { Repository, type InitOptions } from '../../controller/repository/repository.js';
import { BackupWriter } from '../../controller/repository/writer.js';
import {
  LockingUnsupportedError,
  ObjectExistsError,
  ObjectNotFoundError,
  StorageError,
  type Storage,
} from '../../controller/storage/storage.js';
import { MiB, makeRawImage, tempDir, type TempDir } from './disk-images.js';

export interface Backend {
  name: string;
  /** Fresh, empty storage (a new folder, bucket or container) for one test. */
  newStorage(): Promise<Storage>;
  /**
   * Storage whose large-object path (multipart upload, staged blocks) starts at a few MiB, so
   * the suite exercises it without writing hundreds of MiB.
   */
  newStorageForLargeObjects(): Promise<Storage>;
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (e: unknown) => e,
  );
}

async function packKeys(storage: Storage): Promise<string[]> {
  return (await storage.list('packs/')).map((o) => o.key);
}

export function storageSuite(backend: Backend): void {
  describe(`storage on ${backend.name}`, function () {
    this.timeout(120_000);
    let storage: Storage;
    beforeEach(async () => {
      storage = await backend.newStorage();
    });

    it('reads back what put wrote, from one buffer or several parts', async () => {
      const a = randomBytes(1000);
      const b = randomBytes(3000);
      await storage.put('packs/aa/one', [a, b]);
      await storage.put('config', a);
      expect((await storage.get('packs/aa/one')).equals(Buffer.concat([a, b]))).to.be.true;
      expect((await storage.get('config')).equals(a)).to.be.true;
    });

    it('says which object is missing', async () => {
      const err = await caught(storage.get('manifests/nothing-here'));
      expect(err).to.be.instanceOf(ObjectNotFoundError);
      expect((err as Error).message)
        .to.include('manifests/nothing-here')
        .and.include(storage.url);
    });

    it('creates an object once: a second create fails and keeps the first content', async () => {
      await storage.create('config', Buffer.from('first'));
      const err = await caught(storage.create('config', Buffer.from('second')));
      expect(err).to.be.instanceOf(ObjectExistsError);
      expect((await storage.get('config')).toString()).to.equal('first');
    });

    it('lets exactly one of several writers racing to create a key win', async () => {
      const contents = [0, 1, 2, 3, 4].map((i) => Buffer.from(`writer ${i}`));
      const results = await Promise.allSettled(contents.map((c) => storage.create('config', c)));
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(won).to.have.length(1);
      for (const r of results) {
        if (r.status === 'rejected') {
          expect(r.reason).to.be.instanceOf(ObjectExistsError);
        }
      }
      expect((await storage.get('config')).equals(contents[won[0]!]!)).to.be.true;
    });

    it('reads a byte range, and refuses a range past the end', async () => {
      const data = randomBytes(10_000);
      await storage.put('packs/ab/range', data);
      expect((await storage.getRange('packs/ab/range', 1234, 5000)).equals(data.subarray(1234, 6234))).to.be
        .true;
      expect((await storage.getRange('packs/ab/range', 9999, 1)).equals(data.subarray(9999))).to.be.true;
      const past = await caught(storage.getRange('packs/ab/range', 9000, 2000));
      expect(past).to.be.instanceOf(StorageError);
      expect((past as Error).message).to.match(/ends before byte 11000/);
      expect(await caught(storage.getRange('packs/ab/missing', 0, 10))).to.be.instanceOf(ObjectNotFoundError);
    });

    it('lists every object just written under a prefix, in key order, and nothing else', async () => {
      const keys = [
        'index/b',
        'index/a',
        'index/a-c',
        'index/a.b',
        'index/sub/z',
        'indexes/x',
        'manifests/m',
      ];
      for (const key of keys) {
        await storage.put(key, Buffer.from(key));
      }
      const listed = await storage.list('index/');
      expect(listed.map((o) => o.key)).to.deep.equal([
        'index/a',
        'index/a-c',
        'index/a.b',
        'index/b',
        'index/sub/z',
      ]);
      expect(listed.find((o) => o.key === 'index/sub/z')?.size).to.equal('index/sub/z'.length);
      expect(await storage.list('catalogs/')).to.deep.equal([]);
    });

    it('stats an object with its size and write time; a missing object has none', async () => {
      const before = Date.now();
      await storage.put('manifests/s', randomBytes(777));
      const info = await storage.stat('manifests/s');
      expect(info?.size).to.equal(777);
      // Servers keep whole seconds; allow for that and a little clock difference.
      expect(info!.modified.getTime()).to.be.within(before - 5_000, Date.now() + 5_000);
      expect(info?.retainUntil).to.equal(undefined);
      expect(await storage.stat('manifests/none')).to.equal(undefined);
    });

    it('deletes an object everywhere; deleting a missing one is not an error', async () => {
      await storage.put('packs/cd/gone', randomBytes(10));
      await storage.delete('packs/cd/gone');
      expect(await storage.stat('packs/cd/gone')).to.equal(undefined);
      expect(await storage.list('packs/')).to.deep.equal([]);
      expect(await caught(storage.get('packs/cd/gone'))).to.be.instanceOf(ObjectNotFoundError);
      await storage.delete('packs/cd/gone');
    });

    it('refuses keys that could reach outside the repository', async () => {
      for (const key of ['../x', 'a//b', '/abs', 'a/./b', 'sp ace']) {
        expect(await caught(storage.put(key, Buffer.from('x')))).to.be.instanceOf(StorageError);
      }
    });

    it('refuses a lock it cannot set, leaving nothing behind', async function () {
      if (storage.locking) {
        this.skip(); // locking storages are tested where their servers can lock
      }
      const retainUntil = new Date(Date.now() + 3_600_000);
      const err = await caught(storage.put('packs/ef/locked', Buffer.from('x'), { retainUntil }));
      expect(err).to.be.instanceOf(LockingUnsupportedError);
      expect((err as Error).message).to.match(/cannot lock packs\/ef\/locked until/);
      expect(await caught(storage.create('config', Buffer.from('x'), { retainUntil }))).to.be.instanceOf(
        LockingUnsupportedError,
      );
      expect(await storage.stat('packs/ef/locked')).to.equal(undefined);
      expect(await storage.stat('config')).to.equal(undefined);
    });

    it('stores and reads a large object whole (multipart or staged blocks)', async () => {
      const large = await backend.newStorageForLargeObjects();
      const parts = [randomBytes(5 * MiB), randomBytes(4 * MiB), randomBytes(3 * MiB + 17)];
      await large.put('packs/ff/large', parts);
      const whole = Buffer.concat(parts);
      expect((await large.stat('packs/ff/large'))?.size).to.equal(whole.length);
      expect((await large.get('packs/ff/large')).equals(whole)).to.be.true;
      expect(
        (await large.getRange('packs/ff/large', 5 * MiB - 10, 20)).equals(
          whole.subarray(5 * MiB - 10, 5 * MiB + 10),
        ),
      ).to.be.true;
      await large.create('packs/ff/created', whole);
      expect(await caught(large.create('packs/ff/created', whole))).to.be.instanceOf(ObjectExistsError);
    });
  });

  describe(`a repository on ${backend.name}`, function () {
    // Real images, worker threads and servers: generous for CI's 2 shared cores.
    this.timeout(180_000);
    let dir: TempDir;
    let storage: Storage;
    const key = randomBytes(32);
    const init = (options: InitOptions = {}): Promise<Repository> => Repository.init(storage, key, options);
    beforeEach(async () => {
      dir = await tempDir();
      storage = await backend.newStorage();
    });
    afterEach(() => dir.remove());

    it('opens with its key and refuses another key with a clear error', async () => {
      const repo = await init();
      expect((await Repository.open(storage, key)).config.id).to.equal(repo.config.id);
      const err = await caught(Repository.open(storage, randomBytes(32)));
      expect(err).to.be.instanceOf(WrongKeyError);
      expect((err as Error).message).to.match(/key file does not unlock this repository/);
    });

    it('says there is no repository in empty storage', async () => {
      const err = await caught(Repository.open(storage, key));
      expect(err).to.be.instanceOf(UnsupportedFormatError);
      expect((err as Error).message).to.match(/no repository here/);
    });

    it('refuses to initialise over an existing repository', async () => {
      await init();
      expect(((await caught(init())) as Error).message).to.match(/already exists/);
    });

    it('refuses a repository written by a newer format version, naming both versions', async () => {
      await init();
      const config = JSON.parse((await storage.get(CONFIG_KEY)).toString()) as { version: number };
      config.version = 2;
      await storage.put(CONFIG_KEY, Buffer.from(JSON.stringify(config)));
      const err = await caught(Repository.open(storage, key));
      expect(err).to.be.instanceOf(UnsupportedFormatError);
      expect((err as Error).message).to.match(
        /format version 2 is newer than this Shadowkeep supports \(1\)/,
      );
    });

    it('backs up and restores a disk byte for byte; check --read-data finds nothing wrong', async () => {
      const repo = await init({ packSize: MiB });
      await makeRawImage(dir.file('a.raw'), 6 * MiB, [
        { offset: 0, length: 2 * MiB },
        { offset: 4 * MiB, length: MiB },
      ]);
      const manifest = await backupDisk(repo, dir.file('a.raw'), { threads: 1 });
      const reopened = await Repository.open(storage, key);
      await restoreDisk(reopened, manifest.id, dir.file('a.out'), { threads: 2 });
      expect((await readFile(dir.file('a.out'))).equals(await readFile(dir.file('a.raw')))).to.be.true;
      const report = await checkRepository(reopened, { readData: true });
      expect(report.problems).to.deep.equal([]);
      expect(report.chunksVerified).to.be.greaterThan(0);
    });

    it('stores nothing readable without the key: chunk data and ids are encrypted', async () => {
      const repo = await init();
      const marker = Buffer.from('SHADOWKEEP-PLAINTEXT-MARKER-'.repeat(40));
      await makeRawImage(dir.file('disk.raw'), 4 * MiB, []);
      const h = await open(dir.file('disk.raw'), 'r+');
      await h.write(marker, 0, marker.length, MiB);
      await h.close();
      await backupDisk(repo, dir.file('disk.raw'), { threads: 1 });
      for (const pack of await packKeys(storage)) {
        expect((await storage.get(pack)).includes(marker.subarray(0, 28))).to.be.false;
      }
    });

    it('check --read-data names the recovery points a damaged chunk affects', async () => {
      const repo = await init();
      await makeRawImage(dir.file('a.raw'), 2 * MiB, [{ offset: 0, length: 2 * MiB }]);
      const a = await backupDisk(repo, dir.file('a.raw'), { threads: 1 });
      const [pack] = await packKeys(storage);
      const damaged = await storage.get(pack!);
      damaged.writeUInt8(damaged.readUInt8(100) ^ 0xff, 100);
      await storage.put(pack!, damaged);
      expect((await checkRepository(repo)).problems).to.deep.equal([]);
      const report = await checkRepository(repo, { readData: true });
      expect(report.problems).to.have.length(1);
      expect(report.problems[0]!.problem).to.match(/failed authentication/);
      expect(report.problems[0]!.affectedManifests).to.deep.equal([a.id]);
    });

    it('check names recovery points whose pack is missing', async () => {
      const repo = await init();
      await makeRawImage(dir.file('a.raw'), MiB, [{ offset: 0, length: MiB }]);
      const a = await backupDisk(repo, dir.file('a.raw'), { threads: 1 });
      for (const pack of await packKeys(storage)) {
        await storage.delete(pack);
      }
      const report = await checkRepository(repo);
      expect(report.problems).to.not.be.empty;
      for (const p of report.problems) {
        expect(p.problem).to.match(/pack .* is missing/);
        expect(p.affectedManifests).to.deep.equal([a.id]);
      }
    });

    it('garbage collection deletes only unused data, and only after the grace period', async () => {
      const repo = await init({ packSize: MiB });
      await makeRawImage(dir.file('a.raw'), 3 * MiB, [{ offset: 0, length: 3 * MiB }]);
      await makeRawImage(dir.file('b.raw'), 3 * MiB, [{ offset: 0, length: 3 * MiB }]);
      const a = await backupDisk(repo, dir.file('a.raw'), { threads: 1 });
      const b = await backupDisk(repo, dir.file('b.raw'), { threads: 1 });
      await repo.deleteManifest(a.id);
      const later = (s: number): Date => new Date(Date.now() + s * 1000);
      expect((await collectGarbage(repo, { graceMs: 60_000 })).packsDeleted).to.equal(0);
      const condemn = await collectGarbage(repo, { graceMs: 60_000, now: later(120) });
      expect(condemn.packsCondemned).to.be.greaterThan(0);
      expect(condemn.packsDeleted).to.equal(0);
      const sweep = await collectGarbage(repo, { graceMs: 60_000, now: later(240) });
      expect(sweep.packsDeleted).to.equal(condemn.packsCondemned);
      expect((await checkRepository(repo, { readData: true })).problems).to.deep.equal([]);
      await restoreDisk(repo, b.id, dir.file('b.out'));
      expect((await readFile(dir.file('b.out'))).equals(await readFile(dir.file('b.raw')))).to.be.true;
    });

    it('garbage collection never deletes a chunk a backup committed after its pack was condemned', async () => {
      const repo = await init();
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
      expect((await collectGarbage(repo, { ...grace, now: later(240) })).packsDeleted).to.equal(1);
      expect((await checkRepository(repo, { readData: true })).problems).to.deep.equal([]);
      await restoreDisk(repo, again.id, dir.file('a.out'));
      expect((await readFile(dir.file('a.out'))).equals(await readFile(dir.file('a.raw')))).to.be.true;
    });
  });
}
