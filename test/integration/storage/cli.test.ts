import { expect } from 'chai';
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MiB, makeRawImage, tempDir, type TempDir } from '../../support/disk-images.js';
import { startFaultyProxy } from '../../support/faulty-proxy.js';
import { repoRoot } from '../../support/kube.js';
import {
  startAzurite,
  startS3Server,
  type AzuriteServer,
  type S3Server,
} from '../../support/object-stores.js';

const shadowkeep = join(repoRoot, 'bin/shadowkeep');

describe('the CLI on object storage URLs (real S3 and Azure servers on loopback)', function () {
  this.timeout(180_000);
  let s3: S3Server;
  let azurite: AzuriteServer;
  let dir: TempDir;
  before(async () => {
    [s3, azurite, dir] = await Promise.all([startS3Server(), startAzurite(), tempDir()]);
    await makeRawImage(dir.file('disk.raw'), 8 * MiB, [
      { offset: 0, length: 2 * MiB },
      { offset: 5 * MiB, length: MiB },
    ]);
  });
  after(async () => {
    await Promise.all([s3.stop(), azurite.stop(), dir.remove()]);
  });

  const targets = [
    {
      name: 's3://',
      async url() {
        const { bucket } = await s3.newBucket();
        return `s3://${bucket}/cli/repo?endpoint=${s3.endpoint}&pathStyle=true&region=${s3.region}`;
      },
      env: () => ({ AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey }),
      wrongEnv: () => ({
        AWS_ACCESS_KEY_ID: s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: 'wrong-secret-for-the-cli',
      }),
    },
    {
      name: 'azblob://',
      async url() {
        const { container } = await azurite.newContainer();
        return `azblob://${container}/cli/repo?accountUrl=${azurite.accountUrl}`;
      },
      env: () => ({ AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString }),
      wrongEnv: () => ({
        AZURE_STORAGE_ACCOUNT_KEY: Buffer.from('wrong-secret-for-the-cli').toString('base64'),
      }),
    },
  ];

  it('backs up to S3 from a machine whose clock is an hour behind: the SDK corrects from the server and retries', async () => {
    const proxy = await startFaultyProxy({ host: '127.0.0.1', port: s3.port });
    try {
      const { bucket } = await s3.newBucket();
      const env = {
        AWS_ACCESS_KEY_ID: s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
        SHADOWKEEP_REPO: `s3://${bucket}/skewed?endpoint=${proxy.url}&pathStyle=true`,
        SHADOWKEEP_KEY_FILE: dir.file('skewed.key'),
        // libfaketime moves the wall clock only; timers keep running normally.
        FAKETIME_DONT_FAKE_MONOTONIC: '1',
      };
      const late = (...args: string[]) =>
        execa('faketime', ['-f', '-1h', shadowkeep, ...args], { env, reject: false });
      expect((await late('repo', 'init')).exitCode).to.equal(0);
      const backup = await late('disk', 'backup', '--disk', dir.file('disk.raw'), '--no-catalog');
      expect(backup.exitCode, backup.stderr).to.equal(0);
      const check = await late('repo', 'check', '--read-data');
      expect(check.stdout).to.include('no problems found');
      // The server really refused the first, skewed signatures (each process learns the offset anew).
      expect(proxy.upstreamStatuses.filter((s) => s === 403)).to.have.length(3);
    } finally {
      await proxy.stop();
    }
  });

  for (const target of targets) {
    it(`initialises, backs up, checks with --read-data and restores through an ${target.name} URL`, async () => {
      const repo = await target.url();
      const env = {
        ...target.env(),
        SHADOWKEEP_REPO: repo,
        SHADOWKEEP_KEY_FILE: dir.file(`${target.name.slice(0, 2)}.key`),
      };
      const cli = (...args: string[]) => execa(shadowkeep, args, { env, reject: false });

      const init = await cli('repo', 'init');
      expect(init.stderr).to.equal('');
      expect(init.stdout).to.include(`created repository ${repo}`);
      const backup = await cli('disk', 'backup', '--disk', dir.file('disk.raw'), '--no-catalog', '--json');
      expect(backup.exitCode, backup.stderr).to.equal(0);
      const manifest = (JSON.parse(backup.stdout) as { manifest: string }).manifest;
      const check = await cli('repo', 'check', '--read-data');
      expect(check.exitCode, check.stderr).to.equal(0);
      expect(check.stdout)
        .to.match(/verified \d+ chunks/)
        .and.include('no problems found');
      const out = dir.file(`${target.name.slice(0, 2)}.out`);
      const restore = await cli('disk', 'restore', '--manifest', manifest, '--out', out);
      expect(restore.exitCode, restore.stderr).to.equal(0);
      const same = await execa('cmp', [out, dir.file('disk.raw')], { reject: false });
      expect(same.exitCode).to.equal(0);
    });

    it(`says in one line that ${target.name} credentials were refused, without the secret`, async () => {
      const repo = await target.url();
      await writeFile(dir.file('any.key'), randomBytes(32));
      const result = await execa(
        shadowkeep,
        ['repo', 'check', '--repo', repo, '--key-file', dir.file('any.key')],
        {
          env: { ...target.wrongEnv(), AZURE_STORAGE_CONNECTION_STRING: '', SHADOWKEEP_KEY_FILE: '' },
          reject: false,
        },
      );
      expect(result.exitCode).to.equal(1);
      expect(result.stderr).to.match(/refused by .*check the (access key and secret|account key, SAS token)/);
      expect(result.stderr).to.not.include('wrong-secret-for-the-cli');
      expect(result.stderr.trim().split('\n')).to.have.length(1);
    });
  }
});
