/**
 * `kubectl shadowkeep backup`, `status` and `timeline`, run as the real plugin binary
 * (bin/kubectl-shadowkeep) against a real API server, a controller manager and a filehost agent.
 */
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { config, expect } from 'chai';
import { execa } from 'execa';
import type { VirtualMachineProtection } from '../../../controller/api/index.js';
import type { Coverage } from '../../../controller/plugin/status.js';
import type { TimelineEntry } from '../../../controller/plugin/timeline.js';
import { eventually } from '../../support/eventually.js';
import { repoRoot } from '../../support/kube.js';
import { startEnvironment, type Environment } from '../../support/shadowkeep-env.js';

config.truncateThreshold = 0;
const MiB = 1024 * 1024;
const plugin = path.join(repoRoot, 'bin/kubectl-shadowkeep');

describe('kubectl shadowkeep', function () {
  this.timeout(120_000);
  let env: Environment;
  // VM names are unique per run: the inventory is cluster-wide.
  const id = randomBytes(2).toString('hex');
  const sql = `sql-${id}`;
  const faulty = `faulty-${id}`;
  const lab = `lab-${id}`;

  /** Runs the plugin in the test's namespace, as a person would from a shell (no terminal). */
  const kubectlShadowkeep = (...args: string[]) =>
    execa(plugin, [...args, '-n', env.namespace], {
      reject: false,
      env: { KUBECONFIG: process.env.KUBECONFIG ?? '', NO_COLOR: '1' },
    });

  const aPolicy = (name: string, names: string[]): VirtualMachineProtection => ({
    apiVersion: 'shadowkeep.io/v1alpha1',
    kind: 'VirtualMachineProtection',
    metadata: { name, namespace: env.namespace },
    spec: {
      selector: { names, hosts: env.nodes },
      schedule: { cron: '0 0 1 1 *' }, // yearly: no scheduled point during the test
      repository: 'primary',
      retention: { keepLast: 5 },
    },
  });

  before(async () => {
    env = await startEnvironment({ nodes: 1 });
    const node = env.nodes[0]!;
    const storage = env.sim.layout.csvVolume('Volume1');
    const disks = [{ kind: 'Blank' as const, sizeBytes: 8 * MiB }];
    const vm = await env.sim.createVm({ name: sql, owner: node, storage, disks, running: true });
    await env.sim.guestWrite(vm.id, MiB, Buffer.alloc(MiB, 7));
    const broken = await env.sim.createVm({ name: faulty, owner: node, storage, disks, running: true });
    await env.sim.setFaults(broken.id, { snapshotFailure: true });
    await env.sim.createVm({ name: lab, owner: node, storage, disks, running: false });
    await env.clients.protections.create(aPolicy('sql-tier', [sql]));
    await eventually(
      async () => {
        const inventory = await env.clients.vms.get(vm.id.toLowerCase());
        expect(inventory?.status?.protectedBy).to.deep.equal([
          { namespace: env.namespace, name: 'sql-tier' },
        ]);
      },
      { what: `${sql} to be protected by sql-tier` },
    );
    // A second, younger policy that also selects the SQL VM: it must leave it to sql-tier and say so
    // (the older policy wins; a tie within the same second goes to the name sorting first).
    await env.clients.protections.create(aPolicy('whole-estate', [sql, faulty]));
    await eventually(
      async () => {
        const policy = await env.clients.protections.get('whole-estate', env.namespace);
        expect(policy?.status?.vms?.find((row) => row.name === sql)?.mode).to.equal('Excluded');
      },
      { what: 'whole-estate to leave the SQL VM to sql-tier' },
    );
  });

  after(async () => {
    await env.stop();
  });

  it('backs a VM up under the policy that protects it, waits, and prints the recovery point', async () => {
    const result = await kubectlShadowkeep('backup', sql);
    expect(result.exitCode, result.stderr).to.equal(0);
    const [name] = /sql-[0-9a-f]+-ondemand-\d{8}-\d{6}/.exec(result.stdout) ?? [];
    expect(name, result.stdout).to.be.a('string');
    expect(result.stdout).to.contain(`recoverypoint/${name} Completed: ApplicationConsistent, Full`);
    const rp = await env.clients.recoveryPoints.get(name!, env.namespace);
    expect(rp?.spec.protection).to.equal('sql-tier');
    expect(rp?.status?.phase).to.equal('Completed');
  });

  it('fails with the reason when the host refuses the checkpoint', async () => {
    const result = await kubectlShadowkeep('backup', faulty);
    expect(result.exitCode).to.equal(1);
    expect(result.stderr).to.match(
      new RegExp(`recoverypoint/${faulty}-ondemand-\\S+ Failed: SnapshotFailed: `),
    );
  });

  it('shows every VM with the policy that protects it, the unprotected ones and the doubly selected one', async () => {
    await eventually(
      async () => {
        const result = await kubectlShadowkeep('status', '-o', 'json');
        expect(result.exitCode, result.stderr).to.equal(0);
        const coverage = JSON.parse(result.stdout) as Coverage;
        const row = (vm: string) => coverage.vms.find((r) => r.vm === vm);
        expect(row(sql)).to.deep.include({
          protectedBy: ['sql-tier'],
          backupMode: 'Online',
          doubleSelected: true,
        });
        expect(row(sql)?.alsoSelectedBy).to.deep.equal(['whole-estate']);
        expect(row(sql)?.lastRecoveryPoint?.name).to.match(/-ondemand-/);
        expect(row(faulty)?.protectedBy).to.deep.equal(['whole-estate']);
        expect(row(lab)).to.include({ unprotected: true });
        expect(coverage.unprotected).to.include(lab);
      },
      { what: 'status to show the coverage', timeoutMs: 20_000, intervalMs: 500 },
    );
    const table = await kubectlShadowkeep('status');
    expect(table.stdout).to.match(
      new RegExp(`^${sql}\\s.*\\sOnline\\s+sql-tier\\s+${sql}-ondemand-\\S+\\s.*selected by 2 policies`, 'm'),
    );
    expect(table.stdout).to.match(new RegExp(`^${lab}\\s.*<unprotected>`, 'm'));
  });

  it("lists a VM's recovery points, oldest first, with what each holds", async () => {
    const second = await kubectlShadowkeep('backup', sql);
    expect(second.exitCode, second.stderr).to.equal(0);
    const result = await kubectlShadowkeep('timeline', sql, '-o', 'json');
    expect(result.exitCode, result.stderr).to.equal(0);
    const entries = (JSON.parse(result.stdout) as { recoveryPoints: TimelineEntry[] }).recoveryPoints;
    expect(entries.map((e) => [e.phase, e.consistency, e.method])).to.deep.equal([
      ['Completed', 'ApplicationConsistent', 'Full'],
      ['Completed', 'ApplicationConsistent', 'Incremental'],
    ]);
    expect(entries[1]?.parent).to.equal(entries[0]?.name);
    expect(entries[0]?.size).to.match(/Mi$/);
    const table = await kubectlShadowkeep('timeline', sql);
    expect(table.stdout.split('\n')[0]).to.match(/^TIME\s+RECOVERY-POINT\s+PHASE\s+CONSISTENCY/);
    expect(table.stdout).to.match(/Completed\s+ApplicationConsistent\s+Incremental\s/);
  });
});
