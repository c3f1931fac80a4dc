import { expect } from 'chai';
import { KubeConfig } from '@kubernetes/client-node';
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  StorageSharedKeyCredential,
  generateAccountSASQueryParameters,
} from '@azure/storage-blob';
import type { BackupRepository, BackupRepositorySpec } from '../../../controller/api/index.js';
import { backupDisk } from '../../../controller/datapath/backup.js';
import { restoreDisk } from '../../../controller/datapath/restore.js';
import { KubeRest } from '../../../controller/kube/rest.js';
import { clientsFor, type Clients } from '../../../controller/manager/world.js';
import {
  RepositoryAccessError,
  openRepository,
  openRepositoryStorage,
  type RepositoryAccessReason,
} from '../../../controller/repositories/access.js';
import { MiB, makeRawImage, tempDir } from '../../support/disk-images.js';
import { useNamespace } from '../../support/kube.js';
import {
  freePort,
  startAzurite,
  startS3Server,
  type AzuriteServer,
  type S3Server,
} from '../../support/object-stores.js';
import { readFile } from 'node:fs/promises';

describe('BackupRepositories on object storage (real S3 and Azure servers on loopback)', function () {
  this.timeout(120_000);
  const ns = useNamespace('sk-objstore');
  let rest: KubeRest;
  let clients: Clients;
  let s3: S3Server;
  let azurite: AzuriteServer;
  let count = 0;
  before(async () => {
    // The root hook sets KUBECONFIG to the test control plane before this runs.
    const config = new KubeConfig();
    config.loadFromDefault();
    rest = new KubeRest(config);
    clients = clientsFor(rest);
    [s3, azurite] = await Promise.all([startS3Server(), startAzurite()]);
  });
  after(async () => {
    await Promise.all([s3.stop(), azurite.stop()]);
  });

  async function secret(data: Record<string, string>): Promise<string> {
    const name = `creds-${++count}`;
    await rest.request('POST', `/api/v1/namespaces/${ns.name}/secrets`, {
      body: { apiVersion: 'v1', kind: 'Secret', metadata: { name }, stringData: data },
    });
    return name;
  }

  async function repository(
    spec: Omit<BackupRepositorySpec, 'encryptionKeySecret'>,
  ): Promise<BackupRepository> {
    const key = await secret({ password: 'object-storage-test-key-0123456789' });
    return clients.repositories.create({
      apiVersion: 'shadowkeep.io/v1alpha1',
      kind: 'BackupRepository',
      metadata: { name: `repo-${++count}`, namespace: ns.name },
      spec: { ...spec, encryptionKeySecret: key },
    });
  }

  async function s3Spec(
    creds: Record<string, string> = {
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    },
    overrides: { bucket?: string; endpoint?: string } = {},
  ): Promise<Omit<BackupRepositorySpec, 'encryptionKeySecret'>> {
    const { bucket } = await s3.newBucket();
    return {
      type: 'S3',
      s3: {
        bucket: overrides.bucket ?? bucket,
        prefix: 'site-a/primary',
        endpoint: overrides.endpoint ?? s3.endpoint,
        region: s3.region,
        forcePathStyle: true,
        credentialsSecret: await secret(creds),
      },
    };
  }

  async function azureSpec(
    creds: Record<string, string> = { AZURE_STORAGE_ACCOUNT_KEY: azurite.accountKey },
    overrides: { container?: string; accountUrl?: string } = {},
  ): Promise<Omit<BackupRepositorySpec, 'encryptionKeySecret'>> {
    const { container } = await azurite.newContainer();
    return {
      type: 'AzureBlob',
      azureBlob: {
        accountUrl: overrides.accountUrl ?? azurite.accountUrl,
        container: overrides.container ?? container,
        prefix: 'site-b',
        credentialsSecret: await secret(creds),
      },
    };
  }

  function sas(): string {
    return generateAccountSASQueryParameters(
      {
        expiresOn: new Date(Date.now() + 3_600_000),
        permissions: AccountSASPermissions.parse('rwdlc'),
        resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
        services: AccountSASServices.parse('b').toString(),
      },
      new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey),
    ).toString();
  }

  async function reasonOf(
    repo: BackupRepository,
  ): Promise<{ reason: RepositoryAccessReason; message: string }> {
    const err = await openRepository(rest, repo, { create: true }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(RepositoryAccessError);
    const { reason, message } = err as RepositoryAccessError;
    return { reason, message };
  }

  for (const kind of ['S3', 'AzureBlob'] as const) {
    const spec = (): Promise<Omit<BackupRepositorySpec, 'encryptionKeySecret'>> =>
      kind === 'S3' ? s3Spec() : azureSpec();

    it(`creates a ${kind} repository in an empty bucket, opens it again, and restores through it`, async () => {
      const repo = await repository(await spec());
      const created = await openRepository(rest, repo, { create: true });
      const reopened = await openRepository(rest, repo);
      expect(reopened.config.id).to.equal(created.config.id);
      expect(reopened.storage.url).to.match(
        kind === 'S3' ? /^s3:\/\/repo-.*\/site-a\/primary\?/ : /^azblob:\/\//,
      );
      const dir = await tempDir();
      try {
        await makeRawImage(dir.file('disk.raw'), 3 * MiB, [{ offset: MiB, length: MiB }]);
        const manifest = await backupDisk(created, dir.file('disk.raw'), { threads: 1 });
        // Restore workers open the storage again from its location, credentials included.
        await restoreDisk(reopened, manifest.id, dir.file('out.raw'), { threads: 2 });
        expect((await readFile(dir.file('out.raw'))).equals(await readFile(dir.file('disk.raw')))).to.be.true;
      } finally {
        await dir.remove();
      }
    });

    it(`lets first writers racing on empty ${kind} storage share one repository`, async () => {
      const repo = await repository(await spec());
      const opened = await Promise.all([1, 2, 3].map(() => openRepository(rest, repo, { create: true })));
      expect(new Set(opened.map((r) => r.config.id)).size).to.equal(1);
    });

    it(`says when the ${kind} credentials Secret is missing`, async () => {
      const s = await spec();
      const block = kind === 'S3' ? s.s3! : s.azureBlob!;
      block.credentialsSecret = 'no-such-secret';
      const { reason, message } = await reasonOf(await repository(s));
      expect(reason).to.equal('SecretNotFound');
      expect(message).to.match(
        /no-such-secret \(spec\.(s3|azureBlob)\.credentialsSecret\) cannot be read; create it with/,
      );
    });
  }

  it('says which keys an S3 credentials Secret lacks', async () => {
    const { reason, message } = await reasonOf(
      await repository(await s3Spec({ AWS_ACCESS_KEY_ID: s3.accessKeyId })),
    );
    expect(reason).to.equal('SecretInvalid');
    expect(message).to.match(/needs both keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
  });

  it('says which keys an Azure credentials Secret may hold', async () => {
    const { reason, message } = await reasonOf(await repository(await azureSpec({ password: 'x' })));
    expect(reason).to.equal('SecretInvalid');
    expect(message).to.match(
      /has none of the keys AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_TOKEN/,
    );
  });

  it('opens Azure with a connection string or a SAS token as well as an account key', async () => {
    const forms: Record<string, string>[] = [
      { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString },
      { AZURE_STORAGE_SAS_TOKEN: sas() },
    ];
    for (const creds of forms) {
      const repo = await repository(await azureSpec(creds));
      const storage = await openRepositoryStorage(rest, repo);
      await storage.put('probe/x', Buffer.from('x'));
      expect((await storage.list('probe/')).map((o) => o.key)).to.deep.equal(['probe/x']);
    }
  });

  it('reports rejected credentials, a missing bucket or container, and an unreachable server by reason', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const cases: [Omit<BackupRepositorySpec, 'encryptionKeySecret'>, RepositoryAccessReason, RegExp][] = [
      [
        await s3Spec({ AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: 'wrong-secret-key-value' }),
        'CredentialsRejected',
        /check the access key and secret/,
      ],
      [
        await azureSpec({ AZURE_STORAGE_ACCOUNT_KEY: Buffer.from('wrong key').toString('base64') }),
        'CredentialsRejected',
        /check the account key, SAS token or connection string/,
      ],
      [
        await s3Spec(undefined, { bucket: 'missing-bucket' }),
        'StorageNotFound',
        /bucket missing-bucket does not exist at .*create it or fix/,
      ],
      [
        await azureSpec(undefined, { container: 'missing-container' }),
        'StorageNotFound',
        /container missing-container does not exist at .*create it or fix/,
      ],
      [await s3Spec(undefined, { endpoint: closed }), 'StorageUnreachable', /unreachable or failing/],
      [
        await azureSpec(undefined, { accountUrl: `${closed}/${azurite.accountName}` }),
        'StorageUnreachable',
        /unreachable or failing/,
      ],
    ];
    for (const [s, expected, words] of cases) {
      const { reason, message } = await reasonOf(await repository(s));
      expect(reason, message).to.equal(expected);
      expect(message).to.match(words);
      expect(message).to.not.include('wrong-secret-key-value');
    }
  });
});
