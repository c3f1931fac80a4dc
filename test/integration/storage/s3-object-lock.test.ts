import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { S3Storage } from '../../../controller/storage/s3.js';
import { LockingUnsupportedError, ObjectLockedError } from '../../../controller/storage/storage.js';
import { startS3Server, type S3Server } from '../../support/object-stores.js';

const MiB = 1024 * 1024;

describe('S3 Object Lock (VersityGW on loopback)', function () {
  this.timeout(60_000);
  let server: S3Server;
  before(async () => {
    server = await startS3Server();
  });
  after(() => server.stop());

  it('refuses to delete a locked object before its retention ends, saying until when', async () => {
    const storage = new S3Storage(await server.newBucket({ objectLock: true, prefix: 'offsite' }));
    expect(storage.locking).to.be.true;
    const retainUntil = new Date(Math.ceil((Date.now() + 3_600_000) / 1000) * 1000);
    await storage.put('packs/aa/locked', Buffer.from('keep me'), { retainUntil });
    expect((await storage.stat('packs/aa/locked'))?.retainUntil?.toISOString()).to.equal(
      retainUntil.toISOString(),
    );
    const err = await storage.delete('packs/aa/locked').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ObjectLockedError);
    expect((err as ObjectLockedError).retainUntil?.toISOString()).to.equal(retainUntil.toISOString());
    expect((err as Error).message).to.include(`locked until ${retainUntil.toISOString()}`);
    expect((await storage.get('packs/aa/locked')).toString()).to.equal('keep me');
    expect((await storage.list('packs/')).map((o) => o.key)).to.deep.equal(['packs/aa/locked']);
  });

  it('locks objects written in parts and objects created once', async () => {
    const storage = new S3Storage(await server.newBucket({ objectLock: true }), {
      multipartThreshold: 6 * MiB,
      partSize: 5 * MiB,
    });
    const retainUntil = new Date(Date.now() + 3_600_000);
    await storage.put('packs/bb/large', Buffer.alloc(11 * MiB, 7), { retainUntil });
    await storage.create('config', Buffer.from('{}'), { retainUntil });
    for (const key of ['packs/bb/large', 'config']) {
      expect((await storage.stat(key))?.retainUntil).to.be.instanceOf(Date);
      expect(await storage.delete(key).catch((e: unknown) => e)).to.be.instanceOf(ObjectLockedError);
    }
  });

  it('deletes an object, all its versions, once its retention has passed', async () => {
    const storage = new S3Storage(await server.newBucket({ objectLock: true }));
    await storage.put('packs/cc/short', Buffer.from('v1'));
    await storage.put('packs/cc/short', Buffer.from('v2'), { retainUntil: new Date(Date.now() + 2_000) });
    expect(await storage.delete('packs/cc/short').catch((e: unknown) => e)).to.be.instanceOf(
      ObjectLockedError,
    );
    await sleep(2_500);
    await storage.delete('packs/cc/short');
    expect(await storage.stat('packs/cc/short')).to.equal(undefined);
    expect(await storage.list('packs/')).to.deep.equal([]);
    await storage.delete('packs/cc/short');
  });

  it('fails a locked write clearly on a bucket without Object Lock, leaving nothing unlocked behind', async () => {
    const location = await server.newBucket({ objectLock: false });
    const storage = new S3Storage({ ...location, objectLock: true });
    const err = await storage
      .put('packs/dd/x', Buffer.from('x'), { retainUntil: new Date(Date.now() + 60_000) })
      .catch((e: unknown) => e);
    expect(err).to.be.instanceOf(LockingUnsupportedError);
    expect((err as Error).message).to.match(/has no Object Lock configuration/);
    expect(await storage.stat('packs/dd/x')).to.equal(undefined);
  });
});
