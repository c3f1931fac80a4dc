import { S3Storage } from '../../../controller/storage/s3.js';
import { startS3Server, type S3Server } from '../../support/object-stores.js';
import { storageSuite } from '../../support/storage-suite.js';

describe('the S3 backend (VersityGW on loopback)', () => {
  let server: S3Server;
  before(async () => {
    server = await startS3Server();
  });
  after(() => server?.stop());

  storageSuite({
    name: 'S3',
    newStorage: async () => new S3Storage(await server.newBucket({ prefix: 'shadowkeep/test' })),
    newStorageForLargeObjects: async () =>
      new S3Storage(await server.newBucket(), {
        multipartThreshold: 6 * 1024 * 1024,
        partSize: 5 * 1024 * 1024,
      }),
  });
});
