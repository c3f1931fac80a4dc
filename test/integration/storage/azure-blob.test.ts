import { expect } from 'chai';
import { AzureBlobStorage } from '../../../controller/storage/azure-blob.js';
import type { AzureBlobLocation } from '../../../controller/storage/location.js';
import { LockingUnsupportedError } from '../../../controller/storage/storage.js';
import { AZURITE_KEY, startAzurite, type AzuriteServer } from '../../support/object-stores.js';
import { storageFaultSuite } from '../../support/storage-faults.js';
import { storageSuite } from '../../support/storage-suite.js';

describe('the Azure Blob backend (Azurite on loopback)', () => {
  let server: AzuriteServer;
  before(async () => {
    server = await startAzurite();
  });
  after(() => server.stop());

  storageSuite({
    name: 'Azure Blob',
    newStorage: async () => new AzureBlobStorage(await server.newContainer({ prefix: 'shadowkeep/test' })),
    newStorageForLargeObjects: async () =>
      new AzureBlobStorage(await server.newContainer(), {
        maxSingleShotSize: 4 * 1024 * 1024,
        blockSize: 3 * 1024 * 1024,
      }),
  });

  storageFaultSuite<AzureBlobLocation>({
    name: 'Azure Blob',
    server: () => ({ host: '127.0.0.1', port: server.port }),
    newLocation: () => server.newContainer({ prefix: 'faults' }),
    via: (location, baseUrl) => ({ ...location, accountUrl: `${baseUrl}/${server.accountName}` }),
    withWrongCredentials: (location) => ({
      ...location,
      credential: {
        kind: 'sharedKey',
        accountName: server.accountName,
        accountKey: Buffer.from('not the account key').toString('base64'),
      },
    }),
    withMissingLocation: (location) => ({ ...location, container: 'no-such-container' }),
    open: (location) => new AzureBlobStorage(location),
    credentialsHint: /check the account key, SAS token or connection string/,
    secretOf: (location) =>
      location.credential.kind === 'sharedKey' ? location.credential.accountKey : location.credential.token,
  });

  it('refuses to lock on a container without version-level immutability (Azurite has none), writing nothing', async () => {
    const location = await server.newContainer();
    const storage = new AzureBlobStorage({ ...location, immutability: true });
    const err = await storage
      .put('packs/aa/x', Buffer.from('x'), { retainUntil: new Date(Date.now() + 3_600_000) })
      .catch((e: unknown) => e);
    expect(err).to.be.instanceOf(LockingUnsupportedError);
    expect((err as Error).message).to.match(/does not have version-level immutability enabled/);
    expect((err as Error).message).to.not.include(AZURITE_KEY);
    expect(await storage.stat('packs/aa/x')).to.equal(undefined);
  });
});
