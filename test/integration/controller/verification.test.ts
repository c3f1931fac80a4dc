import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { config, expect } from 'chai';
import {
  annotations,
  labels,
  type RecoveryPoint,
  type VirtualMachineProtectionVerification,
} from '../../../controller/api/index.js';
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

  /**
   * A time on a day after today: a policy takes no slot from before its creation, which the API
   * server stamps with the real time.
   */
  function dayAhead(days: number, hhmm: string): Date {
    const day = new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
    return new Date(`${day}T${hhmm}:00Z`);
  }

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

  /** A policy backing the VMs up daily at 10:00 and verifying them as `verification` says. */
  async function dailyPolicy(
    name: string,
    vms: string[],
    verification: VirtualMachineProtectionVerification,
  ): Promise<void> {
    await env.clients.protections.create({
      apiVersion: 'shadowkeep.io/v1alpha1',
      kind: 'VirtualMachineProtection',
      metadata: { name, namespace: env.namespace },
      spec: {
        selector: { names: vms },
        schedule: { cron: '0 10 * * *' },
        repository: 'primary',
        retention: { keepLast: 3 },
        verification,
      },
    });
  }

  async function policyVerified(): Promise<{ status: string; reason: string; message: string }> {
    const policy = await env.clients.protections.get('verified', env.namespace);
    const c = policy?.status?.conditions?.find((x) => x.type === 'Verified');
    return { status: c?.status ?? '', reason: c?.reason ?? '', message: c?.message ?? '' };
  }

  it('verifies the newest point on the schedule, flips Verified when a chunk is damaged, and back once repaired', async () => {
    // 10:05: the daily backup slot of 10:00 is due; verification runs hourly at :30.
    const slot = dayAhead(1, '10:05');
    env.clock.set(slot);
    await dailyPolicy('verified', ['ver01'], {
      schedule: { cron: '30 * * * *' },
      level: 'Filesystem',
    });
    env.manager.resyncAll();
    await eventually(async () => expect((await theRecoveryPoint()).status?.phase).to.equal('Completed'), {
      timeoutMs: 60_000,
      what: 'the scheduled recovery point',
    });

    // Nothing was verified since the 09:30 slot, so the new point is verified as soon as it exists.
    const arrival = await verificationAfter(undefined);
    expect(arrival.status?.verification?.time.slice(0, 16)).to.equal(slot.toISOString().slice(0, 16));
    // 10:31: the next slot verifies it again.
    const nextSlot = dayAhead(1, '10:31');
    env.clock.set(nextSlot);
    env.manager.resyncAll();
    const first = await verificationAfter(arrival.status?.verification?.time);
    expect(first.status?.verification?.time.slice(0, 16)).to.equal(nextSlot.toISOString().slice(0, 16));
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
    env.clock.set(dayAhead(1, '11:31'));
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
          [annotations.verifyRequested]: dayAhead(1, '11:40').toISOString(),
          [annotations.verifyLevel]: 'Checksums',
        },
      },
    });
    env.clock.set(dayAhead(1, '11:41'));
    const healed = await verificationAfter(failed.status?.verification?.time);
    expect(healed.status?.verification).to.include({ result: 'Passed', level: 'Checksums' });
    await eventually(async () => expect((await policyVerified()).status).to.equal('True'), {
      what: "the policy's Verified condition back to True",
    });
  });

  it('boots the newest point as a test VM on an isolated switch, removes it, and fails a point that does not boot', async () => {
    const vms = {
      boots: await env.sim.createVm({
        name: 'boot01',
        owner: env.nodes[0]!,
        storage: env.sim.layout.csvVolume('Volume1'),
        disks: [
          { kind: 'Ntfs', sizeBytes: 16 * MiB, files: [{ name: 'app.ini', data: Buffer.from('[app]\n') }] },
        ],
        running: true,
      }),
      // Its data disk is fine, but the disk it boots from holds nothing a firmware could start.
      noBoot: await env.sim.createVm({
        name: 'noboot01',
        owner: env.nodes[0]!,
        storage: env.sim.layout.csvVolume('Volume1'),
        disks: [
          { kind: 'Blank', sizeBytes: 16 * MiB },
          { kind: 'Ntfs', sizeBytes: 16 * MiB },
        ],
        running: true,
      }),
    };
    env.clock.set(dayAhead(2, '10:05'));
    await dailyPolicy('boot-verified', ['boot01', 'noboot01'], {
      schedule: { cron: '30 * * * *' },
      level: 'Boot',
      bootTimeout: '3s',
    });
    env.manager.resyncAll();

    const verifiedPoint = (vm: string): Promise<RecoveryPoint> =>
      eventually(
        async () => {
          const { items } = await env.clients.recoveryPoints.list(env.namespace, {
            labelSelector: `${labels.vm}=${vm}`,
          });
          const rp = items.find((p) => p.status?.verification?.level === 'Boot');
          if (!rp) {
            throw new Error(
              `no Boot verification of ${vm} yet: ${JSON.stringify(items.map((p) => p.status?.verification))}`,
            );
          }
          return rp;
        },
        { timeoutMs: 90_000, what: `a Boot verification of ${vm}` },
      );

    const booted = await verifiedPoint('boot01');
    expect(booted.status?.verification).to.include({ level: 'Boot', result: 'Passed' });
    expect(booted.status?.verification?.message)
      .to.match(/chunks .* read back and verified; 1 NTFS volume\(s\) opened and walked/)
      .and.contain('booted on')
      .and.contain('isolated switch Shadowkeep Isolated');
    expect(booted.status?.conditions?.find((c) => c.type === 'Verified')).to.include({
      status: 'True',
      reason: 'Booted',
    });

    const failed = await verifiedPoint('noboot01');
    expect(failed.status?.verification).to.include({ level: 'Boot', result: 'Failed' });
    expect(failed.status?.verification?.message).to.contain('sent no heartbeat within 3s');
    expect(failed.status?.conditions?.find((c) => c.type === 'Verified')).to.include({
      status: 'False',
      reason: 'BootFailed',
    });

    // Each test is a VirtualMachineRestore people can inspect; the test VMs themselves are gone.
    const { items: tests } = await env.clients.restores.list(env.namespace, {
      labelSelector: `${labels.verification}=Boot`,
    });
    const testOf = (rp: RecoveryPoint) => tests.find((t) => t.spec.recoveryPoint === rp.metadata.name);
    expect(testOf(booted)?.status?.bootTest).to.include({
      booted: true,
      heartbeat: 'OkApplicationsHealthy',
      removed: true,
    });
    expect(testOf(failed)?.status?.bootTest).to.include({
      booted: false,
      heartbeat: 'NoContact',
      removed: true,
    });
    expect(testOf(booted)?.metadata.ownerReferences?.[0]).to.include({
      kind: 'RecoveryPoint',
      name: booted.metadata.name,
    });
    const registered = await readdir(path.join(env.simRoot, 'vms'));
    const names = await Promise.all(registered.map(async (id) => (await env.sim.vm(id)).name));
    expect(names.filter((n) => n.includes('boot test'))).to.deep.equal([]);
    expect(await readdir(env.hypervisor(env.nodes[0]!).testRestoreFolder)).to.deep.equal([]);
    // The originals were never touched.
    expect((await env.sim.vm(vms.boots.id)).state).to.equal('Running');
    expect((await env.sim.vm(vms.noBoot.id)).state).to.equal('Running');

    await eventually(
      async () => {
        const policy = await env.clients.protections.get('boot-verified', env.namespace);
        const verified = policy?.status?.conditions?.find((c) => c.type === 'Verified');
        expect(verified).to.include({ status: 'False', reason: 'VerificationFailed' });
        expect(verified?.message).to.contain('noboot01');
      },
      { what: "the policy's Verified condition naming the VM that does not boot" },
    );
  });
});
