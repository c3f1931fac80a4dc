/**
 * Faults every object store backend must handle the same way, against its real server behind a
 * fault-injecting proxy (faulty-proxy.ts): retries that succeed, failures with clear errors, and
 * never a partially visible object.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import {
  ObjectNotFoundError,
  StorageAccessDeniedError,
  StorageLocationNotFoundError,
  StorageUnreachableError,
  type Storage,
} from '../../controller/storage/storage.js';
import { startFaultyProxy, type FaultyProxy } from './faulty-proxy.js';
import { freePort } from './object-stores.js';

export interface FaultBackend<L> {
  name: string;
  /** The real server's loopback address. */
  server(): { host: string; port: number };
  newLocation(): Promise<L>;
  /** The same location reached through another base URL (http://127.0.0.1:PORT). */
  via(location: L, baseUrl: string): L;
  withWrongCredentials(location: L): L;
  withMissingLocation(location: L): L;
  open(location: L): Storage;
  /** Words the credentials error must contain, naming what to fix. */
  credentialsHint: RegExp;
  /** The secret of the location, which no message may contain. */
  secretOf(location: L): string;
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (e: unknown) => e,
  );
}

export function storageFaultSuite<L>(backend: FaultBackend<L>): void {
  describe(`faults on ${backend.name}`, function () {
    this.timeout(120_000);
    let proxy: FaultyProxy;
    let location: L;
    let direct: Storage;
    let proxied: Storage;
    before(async () => {
      proxy = await startFaultyProxy(backend.server());
    });
    after(() => proxy.stop());
    beforeEach(async () => {
      proxy.clear();
      location = await backend.newLocation();
      direct = backend.open(location);
      proxied = backend.open(backend.via(location, proxy.url));
    });

    it('retries requests answered with 500 and succeeds', async () => {
      const data = randomBytes(100_000);
      proxy.inject({ kind: 'status', status: 500 }, 2, 'PUT');
      await proxied.put('packs/aa/retried', data);
      proxy.inject({ kind: 'status', status: 503 }, 2, 'GET');
      expect((await proxied.get('packs/aa/retried')).equals(data)).to.be.true;
      expect(proxy.faultsServed).to.equal(4);
      expect((await direct.get('packs/aa/retried')).equals(data)).to.be.true;
    });

    it('retries an upload whose connection closes midway; the object arrives whole', async () => {
      const data = randomBytes(2 * 1024 * 1024);
      proxy.inject({ kind: 'resetUpload' }, 2, 'PUT');
      await proxied.put('packs/bb/reset', data);
      expect(proxy.faultsServed).to.equal(2);
      expect((await direct.get('packs/bb/reset')).equals(data)).to.be.true;
    });

    it('reads an object whole even when a download is cut midway', async () => {
      const data = randomBytes(2 * 1024 * 1024);
      await direct.put('packs/cc/cut', data);
      proxy.inject({ kind: 'resetDownload' }, 1, 'GET');
      expect((await proxied.get('packs/cc/cut')).equals(data)).to.be.true;
      proxy.inject({ kind: 'resetDownload' }, 1, 'GET');
      expect((await proxied.getRange('packs/cc/cut', 1000, 1_000_000)).equals(data.subarray(1000, 1_001_000)))
        .to.be.true;
      expect(proxy.faultsServed).to.equal(2);
    });

    it('gives up on a server that keeps failing with a clear error, leaving no object behind', async () => {
      proxy.inject({ kind: 'resetUpload' }, Infinity, 'PUT');
      const err = await caught(proxied.put('packs/dd/never', randomBytes(500_000)));
      expect(err).to.be.instanceOf(StorageUnreachableError);
      expect((err as Error).message).to.match(/unreachable or failing/);
      expect(await direct.stat('packs/dd/never')).to.equal(undefined);
      proxy.clear();
      proxy.inject({ kind: 'status', status: 500 }, Infinity);
      const listing = await caught(proxied.list('packs/'));
      expect(listing).to.be.instanceOf(StorageUnreachableError);
      expect((listing as Error).message).to.match(/HTTP 500/);
    });

    it('refuses wrong credentials with a message saying what to fix and no secret', async () => {
      const wrong = backend.withWrongCredentials(location);
      const err = await caught(backend.open(wrong).get('config'));
      expect(err).to.be.instanceOf(StorageAccessDeniedError);
      expect((err as Error).message).to.match(backend.credentialsHint);
      expect((err as Error).message).to.not.include(backend.secretOf(wrong));
      expect((err as Error).message).to.not.include(backend.secretOf(location));
    });

    it('names a missing bucket or container and says to create it', async () => {
      const storage = backend.open(backend.withMissingLocation(location));
      const attempts = [
        () => storage.get('config'),
        () => storage.list('manifests/'),
        () => storage.put('x', Buffer.from('x')),
      ];
      for (const attempt of attempts) {
        const err = await caught(attempt());
        expect(err).to.be.instanceOf(StorageLocationNotFoundError);
        expect((err as Error).message).to.match(/does not exist at .*; create it or fix/);
      }
    });

    it('says when the server cannot be reached at all', async () => {
      const closed = `http://127.0.0.1:${await freePort()}`;
      const err = await caught(backend.open(backend.via(location, closed)).get('config'));
      expect(err).to.be.instanceOf(StorageUnreachableError);
      expect((err as Error).message).to.include(closed);
      expect(err).to.not.be.instanceOf(ObjectNotFoundError);
    });
  });
}
