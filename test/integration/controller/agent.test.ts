import { config, expect } from 'chai';
import type { RecoveryPoint } from '../../../controller/api/index.js';
import { agentFieldManager } from '../../../controller/agent/agent.js';
import { eventually } from '../../support/eventually.js';
import { startEnvironment, type Environment } from '../../support/shadowkeep-env.js';

config.truncateThreshold = 0;
const MiB = 1024 * 1024;

/** An on-demand recovery point, as a person (or `kubectl shadowkeep backup`) creates it. */
async function backUp(
  env: Environment,
  name: string,
  vm: string,
  requestedMode: RecoveryPoint['spec']['requestedMode'] = 'OnlineOrSavedState',
): Promise<void> {
  await env.clients.recoveryPoints.create({
    apiVersion: 'shadowkeep.io/v1alpha1',
    kind: 'RecoveryPoint',
    metadata: { name, namespace: env.namespace },
    spec: { vm: { name: vm }, repository: 'primary', requestedMode },
  });
}

async function finished(env: Environment, name: string): Promise<RecoveryPoint> {
  return eventually(
    async () => {
      const rp = await env.clients.recoveryPoints.get(name, env.namespace);
      const phase = rp?.status?.phase;
      if (phase !== 'Completed' && phase !== 'Failed') {
        throw new Error(`${name} is ${phase ?? 'not there'}`);
      }
      return rp!;
    },
    { timeoutMs: 60_000, what: `recovery point ${name} to finish` },
  );
}

describe('the host agent', function () {
  this.timeout(120_000);
  let env: Environment;

  beforeEach(async () => {
    env = await startEnvironment({ nodes: 1 });
  });

  afterEach(async () => {
    await env.stop();
  });

  const csv = (): string => env.sim.layout.csvVolume('Volume1');

  it('fails a recovery point whose checkpoint the host refuses, with the reason, and leaves no checkpoint behind', async () => {
    const vm = await env.sim.createVm({
      name: 'faulty',
      owner: env.nodes[0]!,
      storage: csv(),
      disks: [{ kind: 'Blank', sizeBytes: 8 * MiB }],
      running: true,
    });
    await env.sim.setFaults(vm.id, { snapshotFailure: true });
    await backUp(env, 'faulty-1', 'faulty');
    const rp = await finished(env, 'faulty-1');
    expect(rp.status?.phase).to.equal('Failed');
    expect(rp.status?.failure?.reason).to.equal('SnapshotFailed');
    expect(rp.status?.failure?.message).to.have.length.greaterThan(10);
    expect(await env.hypervisor(env.nodes[0]!).listRecoverySnapshots()).to.deep.equal([]);
  });

  it('refuses to make a weaker point when the policy demands application consistency', async () => {
    await env.sim.createVm({
      name: 'old2008',
      owner: env.nodes[0]!,
      storage: csv(),
      disks: [{ kind: 'Blank', sizeBytes: 8 * MiB }],
      running: true,
      integrationServices: { backup: false },
    });
    await backUp(env, 'old2008-1', 'old2008', 'Online');
    const rp = await finished(env, 'old2008-1');
    expect(rp.status?.failure?.reason).to.equal('ApplicationConsistencyImpossible');
    expect(rp.status?.failure?.message).to.match(
      /Backup \(volume shadow copy\) integration service is disabled/,
    );
  });

  it('takes a saved-state backup when the Backup integration service is disabled, and records the downtime', async () => {
    await env.sim.createVm({
      name: 'legacy',
      owner: env.nodes[0]!,
      storage: csv(),
      disks: [{ kind: 'Blank', sizeBytes: 8 * MiB }],
      running: true,
      integrationServices: { backup: false },
    });
    await backUp(env, 'legacy-1', 'legacy');
    const rp = await finished(env, 'legacy-1');
    expect(rp.status).to.include({ phase: 'Completed', consistency: 'SavedState' });
    expect(rp.status?.downtimeSeconds).to.be.greaterThan(0);
  });

  it('runs a consistency check after a storage migration lost change tracking', async () => {
    const vm = await env.sim.createVm({
      name: 'mover',
      owner: env.nodes[0]!,
      storage: csv(),
      disks: [{ kind: 'Blank', sizeBytes: 8 * MiB }],
      running: true,
    });
    await env.sim.guestWrite(vm.id, 2 * MiB, Buffer.alloc(MiB, 5));
    await backUp(env, 'mover-1', 'mover');
    expect((await finished(env, 'mover-1')).status?.phase).to.equal('Completed');
    await env.hypervisor(env.nodes[0]!).moveStorage(vm.id, env.sim.layout.csvVolume('Volume2'));
    await backUp(env, 'mover-2', 'mover');
    const second = await finished(env, 'mover-2');
    expect(second.status).to.include({ phase: 'Completed', method: 'ConsistencyCheck', parent: 'mover-1' });
    expect(second.status?.disks?.[0]?.readBytes, 'a consistency check reads everything').to.be.greaterThan(0);
    expect(second.status?.disks?.[0]?.changedBytes, 'but sends only differences').to.equal(0);
  });

  it('keeps only the newest change-tracking reference point on the host, and falls back to a consistency check when the newest point is deleted', async () => {
    const vm = await env.sim.createVm({
      name: 'chain',
      owner: env.nodes[0]!,
      storage: csv(),
      disks: [{ kind: 'Blank', sizeBytes: 8 * MiB }],
      running: true,
    });
    const referenceOf = (rp: RecoveryPoint): string =>
      (JSON.parse(rp.metadata.annotations?.['shadowkeep.io/reference-point'] ?? '{}') as { id?: string })
        .id ?? '';
    const points: RecoveryPoint[] = [];
    for (const round of [1, 2, 3]) {
      await env.sim.guestWrite(vm.id, round * MiB, Buffer.alloc(64 * 1024, round));
      await backUp(env, `chain-${round}`, 'chain');
      points.push(await finished(env, `chain-${round}`));
      // The superseded reference goes right after the point is Completed.
      await eventually(
        async () => {
          const held = (await env.sim.vm(vm.id)).referencePoints.map((r) => r.id);
          expect(held, `after backup ${round}`).to.deep.equal([referenceOf(points[round - 1]!)]);
        },
        { timeoutMs: 10_000, what: `one reference point after backup ${round}` },
      );
    }
    expect(points.map((p) => p.status?.method)).to.deep.equal(['Full', 'Incremental', 'Incremental']);

    // Someone deletes the newest point: the next backup's parent is chain-2, whose reference is gone.
    await env.clients.recoveryPoints.delete('chain-3', env.namespace);
    await eventually(
      async () => expect(await env.clients.recoveryPoints.get('chain-3', env.namespace)).to.equal(undefined),
      {
        what: 'chain-3 deleted',
      },
    );
    await backUp(env, 'chain-4', 'chain');
    const fourth = await finished(env, 'chain-4');
    expect(fourth.status).to.include({ phase: 'Completed', method: 'ConsistencyCheck', parent: 'chain-2' });
  });

  it('takes the repository and mode from the policy a recovery point names when it names no repository', async () => {
    await env.sim.createVm({
      name: 'bypolicy',
      owner: env.nodes[0]!,
      storage: csv(),
      disks: [{ kind: 'Blank', sizeBytes: 8 * MiB }],
      running: true,
      integrationServices: { backup: false },
    });
    await env.clients.protections.create({
      apiVersion: 'shadowkeep.io/v1alpha1',
      kind: 'VirtualMachineProtection',
      metadata: { name: 'online-only', namespace: env.namespace },
      spec: {
        selector: { names: ['bypolicy'] },
        schedule: { cron: '0 2 * * *' },
        backupMode: 'Online',
        repository: 'primary',
        retention: { keepLast: 3 },
      },
    });
    await env.clients.recoveryPoints.create({
      apiVersion: 'shadowkeep.io/v1alpha1',
      kind: 'RecoveryPoint',
      metadata: { name: 'bypolicy-1', namespace: env.namespace },
      spec: { protection: 'online-only', vm: { name: 'bypolicy' } },
    });
    const rp = await finished(env, 'bypolicy-1');
    expect(rp.status?.repository).to.equal('primary');
    expect(rp.status?.failure?.reason, "the policy's backupMode Online applies").to.equal(
      'ApplicationConsistencyImpossible',
    );
  });

  it('marks the backups it had under way Failed when it restarts, so the policy retries them', async () => {
    const node = env.nodes[0]!;
    const vm = await env.sim.createVm({
      name: 'crashy',
      owner: node,
      storage: csv(),
      disks: [{ kind: 'Blank', sizeBytes: 8 * MiB }],
      running: true,
    });
    await eventually(async () => expect(await env.clients.vms.get(vm.id.toLowerCase())).not.to.be.undefined, {
      what: 'the VM in the inventory',
    });
    await env.stopAgent(node);
    await backUp(env, 'crashy-1', 'crashy');
    await eventually(
      async () => {
        const rp = await env.clients.recoveryPoints.get('crashy-1', env.namespace);
        expect(rp?.metadata.labels?.['shadowkeep.io/node']).to.equal(node);
      },
      { what: 'the point to be assigned to the node' },
    );
    // What a killed agent leaves behind: a point it had started on its node.
    await env.clients.recoveryPoints.applyStatus(
      'crashy-1',
      env.namespace,
      { phase: 'Transferring', nodeName: node },
      agentFieldManager,
    );
    await env.startAgent(node);
    const rp = await finished(env, 'crashy-1');
    expect(rp.status?.failure?.reason).to.equal('AgentRestarted');
  });
});
