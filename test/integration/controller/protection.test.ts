import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { config, expect } from 'chai';
import { load } from 'js-yaml';
import { nextSlot } from '../../../controller/policy/schedule.js';
import { repoRoot } from '../../support/kube.js';
import type { RecoveryPoint, VirtualMachineProtection } from '../../../controller/api/index.js';
import { labels } from '../../../controller/api/index.js';
import { Repository } from '../../../controller/repository/repository.js';
import { openStorage } from '../../../controller/storage/open.js';
import { eventually } from '../../support/eventually.js';
import { startEnvironment, type Environment } from '../../support/shadowkeep-env.js';
import { aPolicy, completedPoint } from '../../support/protection.js';

config.truncateThreshold = 0;
const MiB = 1024 * 1024;

/** Moves the injected clock to just past the next hourly slot and wakes every reconciler. */
function nextHour(env: Environment): Date {
  const now = env.clock.now();
  const slot = new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000 + 3_600_000);
  env.clock.set(new Date(slot.getTime() + 60_000));
  env.manager.resyncAll();
  return slot;
}

/** Phases of a VM's recovery points, oldest first, with failure reasons so a failing test says why. */
async function phasesOf(env: Environment, vmName: string): Promise<string[]> {
  return (await pointsOf(env, vmName)).map((p) =>
    p.status?.failure ? `Failed: ${p.status.failure.message}` : (p.status?.phase ?? 'Pending'),
  );
}

/** Waits until a VM's recovery points, oldest first, are in these phases. */
async function phasesBecome(env: Environment, vmName: string, phases: string[], what: string): Promise<void> {
  await eventually(async () => expect(await phasesOf(env, vmName)).to.deep.equal(phases), {
    timeoutMs: 60_000,
    what,
  });
}

async function pointsOf(env: Environment, vmName?: string): Promise<RecoveryPoint[]> {
  const { items } = await env.clients.recoveryPoints.list(
    env.namespace,
    vmName ? { labelSelector: `${labels.vm}=${vmName}` } : {},
  );
  return items.sort((a, b) => (a.spec.scheduledTime ?? '').localeCompare(b.spec.scheduledTime ?? ''));
}

describe('protecting VMs with a VirtualMachineProtection', function () {
  this.timeout(180_000);
  let env: Environment;

  beforeEach(async () => {
    env = await startEnvironment({ nodes: 2 });
  });

  afterEach(async () => {
    await env.stop();
  });

  it('takes a recovery point of every VM at its schedule slot, on the node that runs it, in the mode the VM allows', async () => {
    const [node1, node2] = env.nodes as [string, string];
    await env.sim.createVm({
      name: 'sql01',
      owner: node1,
      storage: env.sim.layout.csvVolume('Volume1'),
      disks: [{ kind: 'Blank', sizeBytes: 16 * MiB }],
      running: true,
    });
    await env.sim.createVm({
      name: 'legacy02',
      owner: node2,
      storage: env.sim.layout.csvVolume('Volume1'),
      disks: [{ kind: 'Blank', sizeBytes: 16 * MiB }],
      running: true,
      integrationServices: { backup: false },
    });
    await env.sim.createVm({
      name: 'fs03',
      owner: node2,
      storage: env.sim.layout.csvVolume('Volume1'),
      disks: [{ kind: 'PassThrough', diskNumber: 3 }],
      running: true,
    });
    await env.clients.protections.create(aPolicy(env, 'nightly'));
    await eventually(
      async () => {
        const policy = await env.clients.protections.get('nightly', env.namespace);
        expect(policy?.status?.selectedVMs).to.equal(3);
      },
      { what: 'the policy to see three VMs' },
    );

    const slot = nextHour(env);
    const stamp = slot.toISOString().slice(0, 16).replace(/[-:]/g, '').replace('T', '-');
    const sql = await completedPoint(env, `sql01-${stamp}`);
    const legacy = await completedPoint(env, `legacy02-${stamp}`);
    expect(sql.status).to.include({ consistency: 'ApplicationConsistent', nodeName: node1, method: 'Full' });
    expect(legacy.status).to.include({ consistency: 'SavedState', nodeName: node2 });
    expect(sql.metadata.labels).not.to.have.property('app.kubernetes.io/instance', 'gitops-app');
    await eventually(
      async () => {
        const inventory = await env.clients.vms.get(sql.metadata.labels?.[labels.vmId] ?? '');
        expect(inventory?.status?.protectedBy).to.deep.equal([{ namespace: env.namespace, name: 'nightly' }]);
        expect(inventory?.status?.lastRecoveryPoint?.name).to.equal(sql.metadata.name);
      },
      { what: 'the inventory to show the protecting policy and the last recovery point' },
    );

    const policy = await eventually(
      async () => {
        const p = await env.clients.protections.get('nightly', env.namespace);
        expect(p?.status?.recoveryPoints).to.equal(2);
        return p!;
      },
      { what: 'the policy status to count two recovery points' },
    );
    const fs03 = policy.status?.vms?.find((v) => v.name === 'fs03');
    expect(fs03?.mode).to.equal('Unprotectable');
    expect(fs03?.blockers?.map((b) => b.message).join(' ')).to.match(/pass-through disk/);
    expect((await pointsOf(env, 'fs03')).length, 'no recovery point for an unprotectable VM').to.equal(0);

    const metrics = await env.manager.metrics.registry.metrics();
    expect(metrics).to.match(
      new RegExp(
        `shadowkeep_vm_rpo_seconds\\{namespace="${env.namespace}",policy="nightly",vm="sql01"\\} \\d+`,
      ),
    );
    expect(metrics).to.match(
      new RegExp(
        `shadowkeep_recovery_points\\{namespace="${env.namespace}",phase="Completed",consistency="SavedState"\\} 1`,
      ),
    );
  });

  it('runs the application-consistent-only SQL policy from examples/ on its Berlin schedule', async () => {
    const [node1, node2] = env.nodes as [string, string];
    const example = load(
      await readFile(path.join(repoRoot, 'examples/policy-sql-online-only.yaml'), 'utf8'),
    ) as VirtualMachineProtection;
    // As a kustomize overlay would: this test's namespace, and only this test's hosts.
    example.metadata.namespace = env.namespace;
    example.spec.selector.hosts = env.nodes;
    await env.sim.createVm({
      name: 'sql01',
      owner: node1,
      storage: env.sim.layout.csvVolume('Volume1'),
      disks: [{ kind: 'Blank', sizeBytes: 8 * MiB }],
      running: true,
    });
    await env.sim.createVm({
      name: 'sql02',
      owner: node2,
      storage: env.sim.layout.csvVolume('Volume1'),
      disks: [{ kind: 'Blank', sizeBytes: 8 * MiB }],
      running: true,
      integrationServices: { backup: false },
    });
    await env.clients.protections.create(example);
    const slot = nextSlot(example.spec.schedule, env.clock.now())!;
    env.clock.set(new Date(slot.getTime() + 60_000));
    env.manager.resyncAll();
    await phasesBecome(env, 'sql01', ['Completed'], 'the SQL point');
    await phasesBecome(
      env,
      'sql02',
      [
        'Failed: the policy requires an application-consistent backup, but the VM allows only saved state: the Backup (volume shadow copy) integration service is disabled',
      ],
      'the refused point',
    );
    const [sql01] = await pointsOf(env, 'sql01');
    expect(sql01?.status?.consistency).to.equal('ApplicationConsistent');
    await eventually(
      async () => {
        const policy = await env.clients.protections.get('sql-tier', env.namespace);
        expect(policy?.status?.conditions?.find((c) => c.type === 'OffsiteInSync')?.reason).to.equal(
          'CopiesBehind',
        );
      },
      { what: 'the policy to report that the Azure copy is behind' },
    );
  });

  it('snapshots the VMs of a consistency group together, across hosts', async () => {
    const [node1, node2] = env.nodes as [string, string];
    for (const [name, node] of [
      ['farm-web', node1],
      ['farm-sql', node2],
      ['farm-ad', node2],
    ] as const) {
      await env.sim.createVm({
        name,
        owner: node,
        storage: env.sim.layout.csvVolume('Volume1'),
        disks: [{ kind: 'Blank', sizeBytes: 8 * MiB }],
        running: true,
      });
    }
    await env.clients.protections.create(
      aPolicy(env, 'farm', {
        selector: { namePatterns: ['farm-*'], hosts: env.nodes },
        consistencyGroup: true,
      }),
    );
    nextHour(env);
    const points = await eventually(
      async () => {
        const all = await pointsOf(env);
        expect(all.map((p) => p.status?.phase)).to.deep.equal(['Completed', 'Completed', 'Completed']);
        return all;
      },
      { timeoutMs: 90_000, what: 'the three points of the group' },
    );
    const groups = new Set(points.map((p) => p.spec.consistencyGroup));
    expect(groups.size, 'one group id').to.equal(1);
    for (const rp of points) {
      const together = rp.status?.conditions?.find((c) => c.type === 'ConsistencyGroup');
      expect(together?.status, together?.message).to.equal('True');
    }
    const times = points.map((p) => new Date(p.status?.pointInTime ?? 0).getTime());
    expect(Math.max(...times) - Math.min(...times), 'points in time within two seconds').to.be.below(2000);
  });

  it('keeps taking incremental recovery points of a VM that live-migrated, from its new node', async () => {
    const [node1, node2] = env.nodes as [string, string];
    const vm = await env.sim.createVm({
      name: 'web01',
      owner: node1,
      storage: env.sim.layout.csvVolume('Volume1'),
      disks: [{ kind: 'Blank', sizeBytes: 16 * MiB }],
      running: true,
    });
    await env.clients.protections.create(aPolicy(env, 'web'));
    const first = nextHour(env);
    await phasesBecome(env, 'web01', ['Completed'], 'the first recovery point');

    await env.hypervisor(node1).liveMigrate(vm.id, node2);
    await env.sim.guestWrite(vm.id, 3 * MiB, Buffer.alloc(64 * 1024, 7));
    await eventually(
      async () => {
        const object = await env.clients.vms.get(vm.id.toLowerCase());
        expect(object?.status?.host).to.equal(node2);
      },
      { what: 'the inventory to show the VM on its new node' },
    );
    const second = nextHour(env);
    expect(second.getTime()).to.be.greaterThan(first.getTime());
    const points = await eventually(
      async () => {
        expect(await phasesOf(env, 'web01')).to.deep.equal(['Completed', 'Completed']);
        return pointsOf(env, 'web01');
      },
      { timeoutMs: 60_000, what: 'the second recovery point' },
    );
    const [before, after] = points as [RecoveryPoint, RecoveryPoint];
    expect(after.status).to.include({ nodeName: node2, method: 'Incremental', parent: before.metadata.name });
    expect(after.status?.disks?.[0]?.changedBytes, 'only the changed block moved').to.be.at.most(MiB);
  });

  it('deletes recovery points the retention rules expire, with their data, and keeps the newest', async () => {
    const [node1] = env.nodes as [string];
    await env.sim.createVm({
      name: 'app01',
      owner: node1,
      storage: env.sim.layout.csvVolume('Volume1'),
      disks: [{ kind: 'Blank', sizeBytes: 8 * MiB }],
      running: true,
    });
    await env.clients.protections.create(aPolicy(env, 'short', { retention: { keepLast: 2 } }));
    const names: string[] = [];
    for (let round = 0; round < 3; round++) {
      nextHour(env);
      await eventually(
        async () => {
          const completed = (await pointsOf(env, 'app01')).filter((p) => p.status?.phase === 'Completed');
          expect(completed.length).to.be.at.least(Math.min(round + 1, 2));
          const newest = completed.at(-1)!;
          if (!names.includes(newest.metadata.name)) {
            names.push(newest.metadata.name);
          }
          expect(names.length).to.equal(round + 1);
        },
        { timeoutMs: 60_000, what: `recovery point of round ${round + 1}` },
      );
    }
    const first = await env.clients.recoveryPoints.get(names[0]!, env.namespace);
    const manifest = first?.status?.disks?.[0]?.manifest;
    env.manager.resyncAll();
    await eventually(
      async () => {
        expect((await pointsOf(env, 'app01')).map((p) => p.metadata.name)).to.deep.equal(names.slice(1));
      },
      { timeoutMs: 30_000, what: 'the oldest point to expire' },
    );
    const repo = await Repository.open(
      openStorage(env.repoDir),
      Buffer.from('integration-test-key-0123456789'),
    );
    const stored = await repo.listManifestIds();
    expect(stored).not.to.include(manifest);
    expect(stored).to.have.length(2);
  });

  it('keeps the recovery points when their policy is deleted, unless deletionPolicy is Delete', async () => {
    const [node1] = env.nodes as [string];
    await env.sim.createVm({
      name: 'keep01',
      owner: node1,
      storage: env.sim.layout.csvVolume('Volume1'),
      disks: [{ kind: 'Blank', sizeBytes: 8 * MiB }],
      running: true,
    });
    await env.clients.protections.create(aPolicy(env, 'retain'));
    nextHour(env);
    await phasesBecome(env, 'keep01', ['Completed'], 'a recovery point');
    await env.clients.protections.delete('retain', env.namespace);
    await eventually(
      async () => expect(await env.clients.protections.get('retain', env.namespace)).to.be.undefined,
      { what: 'policy gone' },
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await pointsOf(env, 'keep01')).to.have.length(1);
  });

  it('deletes the recovery points and their data with the policy when deletionPolicy is Delete', async () => {
    const [node1] = env.nodes as [string];
    await env.sim.createVm({
      name: 'temp01',
      owner: node1,
      storage: env.sim.layout.csvVolume('Volume1'),
      disks: [{ kind: 'Blank', sizeBytes: 8 * MiB }],
      running: true,
    });
    await env.clients.protections.create(aPolicy(env, 'scratch', { deletionPolicy: 'Delete' }));
    nextHour(env);
    await phasesBecome(env, 'temp01', ['Completed'], 'a recovery point');
    await env.clients.protections.delete('scratch', env.namespace);
    await eventually(
      async () => {
        expect(await pointsOf(env, 'temp01')).to.have.length(0);
        expect(await env.clients.protections.get('scratch', env.namespace)).to.be.undefined;
      },
      { timeoutMs: 30_000, what: 'the policy and its recovery points to be gone' },
    );
    const repo = await Repository.open(
      openStorage(env.repoDir),
      Buffer.from('integration-test-key-0123456789'),
    );
    expect(await repo.listManifestIds()).to.deep.equal([]);
  });

  it('reports a VM that a second policy also selects, and backs it up only once', async () => {
    const [node1] = env.nodes as [string];
    await env.sim.createVm({
      name: 'dup01',
      owner: node1,
      storage: env.sim.layout.csvVolume('Volume1'),
      disks: [{ kind: 'Blank', sizeBytes: 8 * MiB }],
      running: true,
    });
    await env.clients.protections.create(aPolicy(env, 'first'));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await env.clients.protections.create(aPolicy(env, 'second'));
    const second = await eventually(
      async () => {
        const p = await env.clients.protections.get('second', env.namespace);
        const row = p?.status?.vms?.find((v) => v.name === 'dup01');
        expect(row?.mode).to.equal('Excluded');
        return row!;
      },
      { what: 'the second policy to report the conflict' },
    );
    expect(second.blockers?.[0]?.message).to.match(new RegExp(`also selected by ${env.namespace}/first`));
    nextHour(env);
    await eventually(
      async () =>
        expect((await pointsOf(env, 'dup01')).map((p) => p.spec.protection)).to.deep.equal(['first']),
      {
        timeoutMs: 60_000,
        what: 'one recovery point, from the first policy',
      },
    );
  });

  it('flips RPOMet to False when the agent of a VM stops reporting, and back once it returns', async () => {
    const [node1] = env.nodes as [string];
    await env.sim.createVm({
      name: 'rpo01',
      owner: node1,
      storage: env.sim.layout.csvVolume('Volume1'),
      disks: [{ kind: 'Blank', sizeBytes: 8 * MiB }],
      running: true,
    });
    await env.clients.protections.create(aPolicy(env, 'rpo'));
    nextHour(env);
    await phasesBecome(env, 'rpo01', ['Completed'], 'a first recovery point');
    await env.stopAgent(node1);
    // Two hours later the hourly policy's newest point is too old and its agent is silent.
    env.clock.advance(2 * 3_600_000);
    nextHour(env);
    const rpo = async (status: string): Promise<void> => {
      await eventually(
        async () => {
          env.manager.resyncAll();
          const p = await env.clients.protections.get('rpo', env.namespace);
          expect(p?.status?.conditions?.find((c) => c.type === 'RPOMet')?.status).to.equal(status);
        },
        { timeoutMs: 60_000, intervalMs: 500, what: `RPOMet=${status}` },
      );
    };
    await rpo('False');
    await env.startAgent(node1);
    nextHour(env);
    await rpo('True');
  });
});
