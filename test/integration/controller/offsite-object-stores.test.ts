/**
 * The offsite story end to end on real object stores started on loopback: recovery points copied to
 * an S3 bucket with Object Lock (VersityGW) and to an Azure container (Azurite) under different
 * retention; a locked copy outlives the deletion of its point; the primary is lost and the
 * RecoveryPoints are rebuilt in a fresh namespace from the S3 copy alone, and a disk restored from
 * it byte for byte.
 */
import { rm } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { config, expect } from 'chai';
import type { BackupRepository, RecoveryPoint } from '../../../controller/api/index.js';
import { openRepository } from '../../../controller/repositories/access.js';
import { checkRepository } from '../../../controller/repository/check.js';
import { manifestKey } from '../../../controller/repository/layout.js';
import { ObjectLockedError } from '../../../controller/storage/storage.js';
import { eventually } from '../../support/eventually.js';
import { createNamespace, deleteNamespace } from '../../support/kube.js';
import {
  startAzurite,
  startS3Server,
  type AzuriteServer,
  type S3Server,
} from '../../support/object-stores.js';
import { aPolicy, aRunningVm, backUpNow } from '../../support/protection.js';
import { expectCompleted, expectSameDisk, restoreAndAwait } from '../../support/restores.js';
import { startEnvironment, type Environment } from '../../support/shadowkeep-env.js';

config.truncateThreshold = 0;
const MiB = 1024 * 1024;
const offsitePassword = 'object-store-offsite-password-42';

describe('offsite copies to S3 and Azure Blob', function () {
  this.timeout(240_000);
  let env: Environment;
  let s3: S3Server;
  let azure: AzuriteServer;
  let out: string;
  let vm: { name: string; id: string };
  let s3Spec: BackupRepository['spec'];

  async function secret(namespace: string, name: string, data: Record<string, string>): Promise<void> {
    await env.rest.request('POST', `/api/v1/namespaces/${namespace}/secrets`, {
      body: { apiVersion: 'v1', kind: 'Secret', metadata: { name }, stringData: data },
    });
  }

  async function repository(namespace: string, name: string, spec: BackupRepository['spec']): Promise<void> {
    await env.clients.repositories.create({
      apiVersion: 'shadowkeep.io/v1alpha1',
      kind: 'BackupRepository',
      metadata: { name, namespace },
      spec,
    });
  }

  async function s3Secrets(namespace: string): Promise<void> {
    await secret(namespace, 'offsite-key', { password: offsitePassword });
    await secret(namespace, 's3-creds', {
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    });
  }

  async function point(name: string): Promise<RecoveryPoint | undefined> {
    return env.clients.recoveryPoints.get(name, env.namespace);
  }

  before(async () => {
    [s3, azure] = await Promise.all([startS3Server(), startAzurite()]);
    env = await startEnvironment({ nodes: 1 });
    out = await mkdtemp(path.join(tmpdir(), 'sk-offsite-os-'));
    const bucket = await s3.newBucket({ objectLock: true, prefix: 'shadowkeep/prod' });
    const container = await azure.newContainer({ prefix: 'shadowkeep/prod' });
    await s3Secrets(env.namespace);
    await secret(env.namespace, 'azure-creds', { AZURE_STORAGE_CONNECTION_STRING: azure.connectionString });
    s3Spec = {
      type: 'S3',
      s3: {
        bucket: bucket.bucket,
        prefix: 'shadowkeep/prod',
        endpoint: s3.endpoint,
        region: s3.region,
        forcePathStyle: true,
        credentialsSecret: 's3-creds',
        objectLock: true,
      },
      encryptionKeySecret: 'offsite-key',
    };
    await repository(env.namespace, 's3-vault', s3Spec);
    await repository(env.namespace, 'azure-dr', {
      type: 'AzureBlob',
      azureBlob: {
        accountUrl: azure.accountUrl,
        container: container.container,
        prefix: 'shadowkeep/prod',
        credentialsSecret: 'azure-creds',
      },
      encryptionKeySecret: 'offsite-key',
    });
    const created = await aRunningVm(env, 'erp02', [{ kind: 'Blank', sizeBytes: 32 * MiB }]);
    vm = { name: 'erp02', id: created.id };
    await env.sim.guestWrite(vm.id, 0, randomBytes(5 * MiB));
    await env.clients.protections.create(
      aPolicy(env, 'erp', {
        schedule: { cron: '0 3 1 1 *' },
        offsite: [
          { repository: 's3-vault', retention: { keepLast: 30 }, immutableFor: '1h' },
          { repository: 'azure-dr', retention: { keepLast: 1 } },
        ],
      }),
    );
  });

  after(async () => {
    await env.stop();
    await Promise.all([s3.stop(), azure.stop()]);
    await rm(out, { recursive: true, force: true });
  });

  it('copies each recovery point to both stores, keeping each store to its own retention and locking the S3 copy', async () => {
    await backUpNow(env, 'erp02-1', vm, 'erp');
    await env.sim.guestWrite(vm.id, 16 * MiB, randomBytes(MiB));
    await backUpNow(env, 'erp02-2', vm, 'erp');
    const copies = async (name: string) =>
      Object.fromEntries(((await point(name))?.status?.copies ?? []).map((c) => [c.repository, c]));
    await eventually(
      async () => {
        const first = await copies('erp02-1');
        const second = await copies('erp02-2');
        expect(second['s3-vault']?.phase).to.equal('Completed');
        expect(second['azure-dr']?.phase).to.equal('Completed');
        expect(first['s3-vault']?.phase).to.equal('Completed');
        expect(first['azure-dr']?.phase, 'azure-dr keeps only the newest').to.equal('Expired');
      },
      { timeoutMs: 90_000, what: 'copies to S3 and Azure' },
    );
    const second = await copies('erp02-2');
    expect(second['s3-vault']?.copiedBytes).to.be.below(3 * MiB);
    const lockedUntil = new Date(second['s3-vault']?.immutableUntil ?? 0).getTime();
    expect(lockedUntil - Date.now()).to.be.within(50 * 60_000, 61 * 60_000);

    for (const name of ['s3-vault', 'azure-dr']) {
      const repoObject = await env.clients.repositories.get(name, env.namespace);
      const repo = await openRepository(env.rest, repoObject!);
      const check = await checkRepository(repo, { readData: true });
      expect(check.problems, name).to.deep.equal([]);
      expect(check.manifests, name).to.equal(name === 's3-vault' ? 2 : 1);
    }
  });

  it('keeps a locked S3 copy when its recovery point is deleted, and refuses to delete it early', async () => {
    const first = await point('erp02-1');
    const manifest = first?.status?.disks?.[0]?.manifest ?? '';
    await env.clients.recoveryPoints.delete('erp02-1', env.namespace);
    await eventually(async () => expect(await point('erp02-1')).to.equal(undefined), {
      timeoutMs: 60_000,
      what: 'erp02-1 to be deleted',
    });
    const vault = await openRepository(
      env.rest,
      (await env.clients.repositories.get('s3-vault', env.namespace))!,
    );
    expect(await vault.listManifestIds()).to.include(manifest);
    const refused = await vault.storage.delete(manifestKey(manifest)).catch((e: unknown) => e);
    expect(refused).to.be.instanceOf(ObjectLockedError);
    expect(String(refused)).to.match(/is locked until .* and cannot be deleted before then/);
  });

  it('rebuilds the RecoveryPoints in a fresh namespace from the S3 copy after the primary is lost, and restores a disk byte for byte', async () => {
    await rm(env.repoDir, { recursive: true, force: true });
    const dr = await createNamespace('sk-dr-s3');
    try {
      await s3Secrets(dr);
      await repository(dr, 's3-vault', { ...s3Spec, syncRecoveryPoints: true });
      await eventually(
        async () => {
          const { items } = await env.clients.recoveryPoints.list(dr);
          // erp02-1's RecoveryPoint was deleted, but its locked copy (and record) are still there.
          expect(items.map((p) => `${p.metadata.name}:${p.status?.phase ?? 'none'}`).sort()).to.deep.equal([
            'erp02-1:Completed',
            'erp02-2:Completed',
          ]);
        },
        { timeoutMs: 60_000, what: 'RecoveryPoints rebuilt from S3' },
      );
      const folder = path.join(out, 'from-s3');
      const restore = await restoreAndAwait(
        env,
        {
          name: 'from-s3',
          namespace: dr,
          recoveryPoint: 'erp02-2',
          target: { type: 'Disks', nodeName: env.nodes[0]!, path: folder },
        },
        90_000,
      );
      expectCompleted(restore);
      await expectSameDisk(path.join(folder, 'disk0.vhdx'), (await env.sim.vm(vm.id)).disks[0]!.path!);
    } finally {
      await deleteNamespace(dr);
    }
  });
});
