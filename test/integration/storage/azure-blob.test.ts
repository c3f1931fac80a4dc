import { AzureBlobStorage } from '../../../controller/storage/azure-blob.js';
import { startAzurite, type AzuriteServer } from '../../support/object-stores.js';
import { storageSuite } from '../../support/storage-suite.js';

describe('the Azure Blob backend (Azurite on loopback)', () => {
  let server: AzuriteServer;
  before(async () => {
    server = await startAzurite();
  });
  after(() => server?.stop());

  storageSuite({
    name: 'Azure Blob',
    newStorage: async () => new AzureBlobStorage(await server.newContainer({ prefix: 'shadowkeep/test' })),
    newStorageForLargeObjects: async () =>
      new AzureBlobStorage(await server.newContainer(), {
        maxSingleShotSize: 4 * 1024 * 1024,
        blockSize: 3 * 1024 * 1024,
      }),
  });
});
