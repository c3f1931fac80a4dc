import { S3Storage } from '../../../controller/storage/s3.js';
import type { S3Location } from '../../../controller/storage/location.js';
import { startS3Server, type S3Server } from '../../support/object-stores.js';
import { storageFaultSuite } from '../../support/storage-faults.js';
import { storageSuite } from '../../support/storage-suite.js';

describe('the S3 backend (VersityGW on loopback)', () => {
  let server: S3Server;
  before(async () => {
    server = await startS3Server();
  });
  after(() => server.stop());

  storageSuite({
    name: 'S3',
    newStorage: async () => new S3Storage(await server.newBucket({ prefix: 'shadowkeep/test' })),
    newStorageForLargeObjects: async () =>
      new S3Storage(await server.newBucket(), {
        multipartThreshold: 6 * 1024 * 1024,
        partSize: 5 * 1024 * 1024,
      }),
  });

  storageFaultSuite<S3Location>({
    name: 'S3',
    server: () => ({ host: '127.0.0.1', port: server.port }),
    newLocation: () => server.newBucket({ prefix: 'faults' }),
    via: (location, baseUrl) => ({ ...location, endpoint: baseUrl }),
    withWrongCredentials: (location) => ({
      ...location,
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: 'not-the-secret-0123456789' },
    }),
    withMissingLocation: (location) => ({ ...location, bucket: 'no-such-bucket' }),
    open: (location) => new S3Storage(location),
    credentialsHint: /check the access key and secret \(AWS_ACCESS_KEY_ID \/ AWS_SECRET_ACCESS_KEY/,
    secretOf: (location) => location.credentials?.secretAccessKey ?? '',
  });
});
