import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { config, expect } from 'chai';
import { annotations, labels, type RecoveryPoint } from '../../../controller/api/index.js';
import { eventually } from '../../support/eventually.js';
import { startEnvironment, type Environment } from '../../support/shadowkeep-env.js';

config.truncateThreshold = 0;
const MiB = 1024 * 1024;

/** Every pack file of the repository with its content, to damage and later repair them. */
async function packFiles(repoDir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        await walk(full);
      } else {
        files.set(full, await readFile(full));
      }
    }
  };
  await walk(path.join(repoDir, 'packs'));
  return files;
}

describe('scheduled verification (proof of recoverability)', function () {
  this.timeout(240_000);
  let env: Environment;

  before(async () => {
    env = await startEnvironment({ nodes: 1 });
    await env.sim.createVm({
      name: 'ver01',
      owner: env.nodes[0]!,
      storage: env.sim.layout.csvVolume('Volume1'),
      disks: [
        {
          kind: 'Ntfs',
          sizeBytes: 24 * MiB,
          files: [
            { name: 'ledger.db', data: randomBytes(400_000) },
            { name: 'notes.txt', data: Buffer.from('quarterly close\n') },
          ],
        },
      ],
      running: true,
    });
  });

  after(async () => {
    await env.stop();
  });

  async function theRecoveryPoint(): Promise<RecoveryPoint> {
    const { items } = await env.clients.recoveryPoints.list(env.namespace, {
      labelSelector: `${labels.vm}=ver01`,
    });
    expect(items).to.have.length(1);
    return items[0]!;
  }

  async function verificationAfter(since: string | undefined): Promise<RecoveryPoint> {
    return eventually(
      async () => {
        const rp = await theRecoveryPoint();
        const time = rp.status?.verification?.time;
        if (!time || (since !== undefined && time <= since)) {
          throw new Error(
            `no verification after ${since ?? 'the start'}: ${JSON.stringify(rp.status?.verification)}`,
          );
        }
        return rp;
      },
      { timeoutMs: 60_000, what: 'a verification result' },
    );
  }

  async function policyVerified(): Promise<{ status: string; reason: string; message: string }> {
    const policy = await env.clients.protections.get('verified', env.namespace);
    const c = policy?.status?.conditions?.find((x) => x.type === 'Verified');
    return { status: c?.status ?? '', reason: c?.reason ?? '', message: c?.message ?? '' };
  }

  it('verifies the newest point on the schedule, flips Verified when a chunk is damaged, and back once repaired', async () => {
    // 10:05: the daily backup slot of 10:00 is due; verification runs hourly at :30.
    env.clock.set(new Date('2026-11-23T10:05:00Z'));
    await env.clients.protections.create({
      apiVersion: 'shadowkeep.io/v1alpha1',
      kind: 'VirtualMachineProtection',
      metadata: { name: 'verified', namespace: env.namespace },
      spec: {
        selector: { names: ['ver01'] },
        schedule: { cron: '0 10 * * *' },
        repository: 'primary',
        retention: { keepLast: 3 },
        verification: { schedule: { cron: '30 * * * *' }, level: 'Filesystem' },
      },
    });
    env.manager.resyncAll();
    await eventually(async () => expect((await theRecoveryPoint()).status?.phase).to.equal('Completed'), {
      timeoutMs: 60_000,
      what: 'the scheduled recovery point',
    });

    // Nothing was verified since the 09:30 slot, so the new point is verified as soon as it exists.
    const arrival = await verificationAfter(undefined);
    expect(arrival.status?.verification?.time).to.match(/^2026-11-23T10:05/);
    // 10:31: the next slot verifies it again.
    env.clock.set(new Date('2026-11-23T10:31:00Z'));
    env.manager.resyncAll();
    const first = await verificationAfter(arrival.status?.verification?.time);
    expect(first.status?.verification?.time).to.match(/^2026-11-23T10:31/);
    expect(first.status?.verification).to.include({ level: 'Filesystem', result: 'Passed' });
    expect(first.status?.verification?.message).to.match(/1 NTFS volume\(s\) opened and walked: \d+ files/);
    expect(first.status?.conditions?.find((c) => c.type === 'Verified')).to.include({
      status: 'True',
      reason: 'FilesystemsVerified',
    });
    await eventually(async () => expect((await policyVerified()).status).to.equal('True'), {
      what: "the policy's Verified condition",
    });

    // A bit flips in every pack; at the next slot the verification reads it back and fails.
    const packs = await packFiles(env.repoDir);
    for (const [file, data] of packs) {
      const damaged = Buffer.from(data);
      damaged[64] = (damaged[64] ?? 0) ^ 0xff;
      await writeFile(file, damaged);
    }
    env.clock.set(new Date('2026-11-23T11:31:00Z'));
    env.manager.resyncAll();
    const failed = await verificationAfter(first.status?.verification?.time);
    expect(failed.status?.verification).to.include({ result: 'Failed', level: 'Checksums' });
    expect(failed.status?.verification?.message).to.contain('damaged').and.contain('offsite copy');
    expect(failed.status?.conditions?.find((c) => c.type === 'Verified')).to.include({
      status: 'False',
      reason: 'ChunksDamaged',
    });
    await eventually(
      async () => {
        const verified = await policyVerified();
        expect(verified).to.include({ status: 'False', reason: 'VerificationFailed' });
        expect(verified.message).to.contain(`ver01 (RecoveryPoint ${failed.metadata.name}`);
      },
      { what: 'the policy reporting the failed verification' },
    );
    const events = await env.rest.request<{
      items: { reason: string; involvedObject: { name: string }; message: string }[];
    }>('GET', `/api/v1/namespaces/${env.namespace}/events`);
    expect(
      events.items.filter((e) => e.involvedObject.name === failed.metadata.name).map((e) => e.reason),
    ).to.include.members(['Verified', 'VerificationFailed']);

    // Repaired (the packs as they were): asking for a verification now turns it green again.
    for (const [file, data] of packs) {
      await writeFile(file, data);
    }
    await env.clients.recoveryPoints.mergePatch(failed.metadata.name, env.namespace, {
      metadata: {
        annotations: {
          [annotations.verifyRequested]: new Date('2026-11-23T11:40:00Z').toISOString(),
          [annotations.verifyLevel]: 'Checksums',
        },
      },
    });
    env.clock.set(new Date('2026-11-23T11:41:00Z'));
    const healed = await verificationAfter(failed.status?.verification?.time);
    expect(healed.status?.verification).to.include({ result: 'Passed', level: 'Checksums' });
    await eventually(async () => expect((await policyVerified()).status).to.equal('True'), {
      what: "the policy's Verified condition back to True",
    });
  });
});
