import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { config, expect } from 'chai';
import { execa } from 'execa';
import { annotations, type RecoveryPoint } from '../../../controller/api/index.js';
import { checkRepository } from '../../../controller/repository/check.js';
import { Repository } from '../../../controller/repository/repository.js';
import { FilesystemStorage } from '../../../controller/storage/filesystem.js';
import { eventually } from '../../support/eventually.js';
import { createNamespace, deleteNamespace, repoRoot } from '../../support/kube.js';
import { aPolicy, aRunningVm, backUpNow } from '../../support/protection.js';
import { expectCompleted, expectSameDisk, restoreAndAwait } from '../../support/restores.js';
import { REPOSITORY_PASSWORD, startEnvironment, type Environment } from '../../support/shadowkeep-env.js';

config.truncateThreshold = 0;
const MiB = 1024 * 1024;
const offsitePassword = 'offsite-site-password-9876543210';

describe('offsite copies of recovery points', function () {
  this.timeout(180_000);
  let env: Environment;
  let offsiteDir: string;
  let shortDir: string;
  let out: string;
  let vm: { name: string; id: string };

  before(async () => {
    env = await startEnvironment({ nodes: 1 });
    offsiteDir = await mkdtemp(path.join(tmpdir(), 'sk-offsite-'));
    out = await mkdtemp(path.join(tmpdir(), 'sk-offsite-restore-'));
    shortDir = await mkdtemp(path.join(tmpdir(), 'sk-offsite-short-'));
    await env.addRepository('dr-site', offsiteDir, offsitePassword);
    await env.addRepository('dr-short', shortDir, offsitePassword);
    const created = await aRunningVm(env, 'erp01', [{ kind: 'Blank', sizeBytes: 32 * MiB }]);
    vm = { name: 'erp01', id: created.id };
    await env.sim.guestWrite(vm.id, 0, randomBytes(6 * MiB));
    // Scheduled for once a year: the test takes its recovery points on demand under the policy.
    await env.clients.protections.create(
      aPolicy(env, 'erp', {
        schedule: { cron: '0 3 1 1 *' },
        offsite: [
          { repository: 'dr-site', retention: { keepLast: 30 } },
          { repository: 'dr-short', retention: { keepLast: 1 } },
        ],
      }),
    );
  });

  after(async () => {
    await env.stop();
    await rm(offsiteDir, { recursive: true, force: true });
    await rm(shortDir, { recursive: true, force: true });
    await rm(out, { recursive: true, force: true });
  });

  async function copied(name: string): Promise<NonNullable<RecoveryPoint['status']>['copies']> {
    return eventually(
      async () => {
        const rp = await env.clients.recoveryPoints.get(name, env.namespace);
        const copy = rp?.status?.copies?.find((c) => c.repository === 'dr-site');
        expect(copy?.phase, JSON.stringify(rp?.status?.copies)).to.equal('Completed');
        return rp?.status?.copies;
      },
      { timeoutMs: 60_000, what: `the copy of ${name} to dr-site` },
    );
  }

  it('copies each completed recovery point to the offsite repository, sending only new data the second time', async () => {
    await backUpNow(env, 'erp01-1', vm, 'erp');
    const [first] = (await copied('erp01-1')) ?? [];
    expect(first?.copiedBytes).to.be.greaterThan(6 * MiB);
    expect(first?.completionTime).to.be.a('string');

    await env.sim.guestWrite(vm.id, 20 * MiB, randomBytes(512 * 1024));
    await backUpNow(env, 'erp01-2', vm, 'erp');
    const [second] = (await copied('erp01-2')) ?? [];
    expect(second?.copiedBytes).to.be.greaterThan(512 * 1024);
    expect(second?.copiedBytes).to.be.below(2 * MiB);

    const offsite = await Repository.open(new FilesystemStorage(offsiteDir), Buffer.from(offsitePassword));
    const check = await checkRepository(offsite, { readData: true });
    expect(check.problems).to.deep.equal([]);
    expect(check.manifests).to.equal(2);

    const events = (
      await env.rest.request<{ items: { reason: string; message: string }[] }>(
        'GET',
        `/api/v1/namespaces/${env.namespace}/events?fieldSelector=involvedObject.name=erp01-2`,
      )
    ).items;
    expect(events.map((e) => e.reason)).to.include('CopyCompleted');
    const metrics = await env.manager.metrics.registry.getSingleMetricAsString('shadowkeep_offsite_copies');
    expect(metrics).to.include(
      `shadowkeep_offsite_copies{namespace="${env.namespace}",repository="dr-site",phase="Completed"} 2`,
    );
  });

  it('expires copies by each offsite repository own retention, independent of the primary', async () => {
    await eventually(
      async () => {
        const rp = await env.clients.recoveryPoints.get('erp01-1', env.namespace);
        const phases = Object.fromEntries((rp?.status?.copies ?? []).map((c) => [c.repository, c.phase]));
        expect(phases).to.deep.equal({ 'dr-site': 'Completed', 'dr-short': 'Expired' });
      },
      { timeoutMs: 60_000, what: 'the copy of erp01-1 in dr-short to expire' },
    );
    const second = await env.clients.recoveryPoints.get('erp01-2', env.namespace);
    const short = await Repository.open(new FilesystemStorage(shortDir), Buffer.from(offsitePassword));
    expect(await short.listManifestIds()).to.deep.equal(second?.status?.disks?.map((d) => d.manifest));
    expect((await checkRepository(short, { readData: true })).problems).to.deep.equal([]);
    const primary = await Repository.open(
      new FilesystemStorage(env.repoDir),
      Buffer.from(REPOSITORY_PASSWORD),
    );
    expect(await primary.listManifestIds()).to.have.length(2);
  });

  it('restores a disk from the offsite copy byte for byte when told to read from it', async () => {
    const folder = path.join(out, 'from-dr');
    const restore = await restoreAndAwait(env, {
      name: 'from-dr',
      recoveryPoint: 'erp01-2',
      fromRepository: 'dr-site',
      target: { type: 'Disks', nodeName: env.nodes[0]!, path: folder },
    });
    expectCompleted(restore);
    await expectSameDisk(path.join(folder, 'disk0.vhdx'), (await env.sim.vm(vm.id)).disks[0]!.path!);
  });

  it('refuses to restore from a repository the recovery point was never copied to', async () => {
    const refused = await restoreAndAwait(env, {
      name: 'from-nowhere',
      recoveryPoint: 'erp01-2',
      fromRepository: 'primary-typo',
      target: { type: 'Disks', nodeName: env.nodes[0]!, path: path.join(out, 'nowhere') },
    });
    expect(refused.status?.phase).to.equal('Failed');
    expect(refused.status?.failure?.message).to.match(/no completed copy in primary-typo/);
  });

  it('seeds a new offsite repository from removable media, so its first copy sends nothing the media carried', async () => {
    const media = path.join(out, 'usb-disk');
    const seededDir = await mkdtemp(path.join(tmpdir(), 'sk-offsite-seeded-'));
    try {
      const shadowkeep = (...args: string[]) =>
        execa(path.join(repoRoot, 'bin/shadowkeep'), ['seed', ...args, '-n', env.namespace], {
          reject: false,
        });
      /** Imports the media into dr-seeded, naming the repository the media was exported from. */
      const importSeed = (source: string) =>
        shadowkeep('import', '--from', media, '--repository', 'dr-seeded', '--source-repository', source);
      const exported = await shadowkeep('export', '--recovery-point', 'erp01-2', '--to', media);
      expect(exported.stderr).to.equal('');
      expect(exported.stdout).to.match(/exported erp01-2 to .*usb-disk: 1 disks, \d+ chunks written/);
      await env.addRepository('dr-seeded', seededDir, offsitePassword);
      const imported = await importSeed('primary');
      expect(imported.stderr).to.equal('');
      expect(imported.stdout).to.match(/imported .*usb-disk into .*dr-seeded/);

      await env.clients.protections.mergePatch('erp', env.namespace, {
        spec: {
          offsite: [
            { repository: 'dr-site', retention: { keepLast: 30 } },
            { repository: 'dr-short', retention: { keepLast: 1 } },
            { repository: 'dr-seeded', retention: { keepLast: 30 } },
          ],
        },
      });
      await eventually(
        async () => {
          const rp = await env.clients.recoveryPoints.get('erp01-2', env.namespace);
          const copy = rp?.status?.copies?.find((c) => c.repository === 'dr-seeded');
          expect(copy?.phase, JSON.stringify(rp?.status?.copies)).to.equal('Completed');
          expect(copy?.copiedBytes).to.equal(0);
        },
        { timeoutMs: 60_000, what: 'the copy of erp01-2 to the seeded repository' },
      );
      const seeded = await Repository.open(new FilesystemStorage(seededDir), Buffer.from(offsitePassword));
      expect((await checkRepository(seeded, { readData: true })).problems).to.deep.equal([]);

      const wrong = await importSeed('nope');
      expect(wrong.exitCode).to.equal(1);
      expect(wrong.stderr).to.equal(`shadowkeep seed: no BackupRepository ${env.namespace}/nope`);
    } finally {
      await rm(seededDir, { recursive: true, force: true });
    }
  });

  it('heals chunks damaged in the primary from the offsite copy when verification finds them', async () => {
    const packsDir = path.join(env.repoDir, 'packs');
    for (const name of (await readdir(packsDir, { recursive: true })).filter((n) => n.includes('/'))) {
      const file = path.join(packsDir, name);
      const bytes = await readFile(file);
      bytes[0] = (bytes[0] ?? 0) ^ 0xff;
      await writeFile(file, bytes);
    }
    const before = (await env.clients.recoveryPoints.get('erp01-2', env.namespace))?.status?.verification
      ?.time;
    await env.clients.recoveryPoints.mergePatch('erp01-2', env.namespace, {
      metadata: { annotations: { [annotations.verifyRequested]: env.clock.now().toISOString() } },
    });
    const verification = await eventually(
      async () => {
        const v = (await env.clients.recoveryPoints.get('erp01-2', env.namespace))?.status?.verification;
        expect(v?.time).to.not.equal(before);
        return v;
      },
      { timeoutMs: 60_000, what: 'the verification of erp01-2' },
    );
    expect(verification?.result, verification?.message).to.equal('Passed');
    expect(verification?.message).to.match(/^healed from the copy in dr-\w+ \(\d+ chunks re-fetched/);
    const primary = await Repository.open(
      new FilesystemStorage(env.repoDir),
      Buffer.from(REPOSITORY_PASSWORD),
    );
    const check = await checkRepository(primary, { readData: true });
    expect(check.problems.filter((p) => p.affectedManifests.length > 0)).to.deep.equal([]);
  });

  it('rebuilds the RecoveryPoints in a new namespace from the offsite repository alone, after the primary is lost, and restores from them', async () => {
    await rm(env.repoDir, { recursive: true, force: true });
    const dr = await createNamespace('sk-dr');
    try {
      await env.rest.request('POST', `/api/v1/namespaces/${dr}/secrets`, {
        body: {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'offsite-key' },
          stringData: { password: offsitePassword },
        },
      });
      await env.clients.repositories.create({
        apiVersion: 'shadowkeep.io/v1alpha1',
        kind: 'BackupRepository',
        metadata: { name: 'dr-site', namespace: dr },
        spec: {
          type: 'Filesystem',
          filesystem: { path: offsiteDir },
          encryptionKeySecret: 'offsite-key',
          syncRecoveryPoints: true,
        },
      });
      const rebuilt = await eventually(
        async () => {
          const { items } = await env.clients.recoveryPoints.list(dr);
          expect(items.map((p) => `${p.metadata.name}:${p.status?.phase ?? 'none'}`).sort()).to.deep.equal([
            'erp01-1:Completed',
            'erp01-2:Completed',
          ]);
          return items;
        },
        { timeoutMs: 60_000, what: 'the RecoveryPoints rebuilt from dr-site' },
      );
      const second = rebuilt.find((p) => p.metadata.name === 'erp01-2');
      expect(second?.status?.repository).to.equal('dr-site');
      expect(second?.status?.vmId).to.equal(vm.id.toLowerCase());
      expect(second?.status?.disks?.[0]?.manifest).to.be.a('string');

      const folder = path.join(out, 'after-disaster');
      expectCompleted(
        await restoreAndAwait(env, {
          name: 'after-disaster',
          namespace: dr,
          recoveryPoint: 'erp01-2',
          target: { type: 'Disks', nodeName: env.nodes[0]!, path: folder },
        }),
      );
      await expectSameDisk(path.join(folder, 'disk0.vhdx'), (await env.sim.vm(vm.id)).disks[0]!.path!);
    } finally {
      await deleteNamespace(dr);
    }
  });
});
