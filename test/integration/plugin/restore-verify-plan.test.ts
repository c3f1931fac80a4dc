/**
 * `kubectl shadowkeep restore`, `verify` and `plan`, run as the real plugin binary against a real
 * API server, a controller manager and a filehost agent.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { config, expect } from 'chai';
import { execa } from 'execa';
import { labels } from '../../../controller/api/index.js';
import type { PolicyPlan } from '../../../controller/plugin/plan.js';
import { eventually } from '../../support/eventually.js';
import { repoRoot } from '../../support/kube.js';
import { startEnvironment, type Environment } from '../../support/shadowkeep-env.js';

config.truncateThreshold = 0;
const MiB = 1024 * 1024;
const plugin = path.join(repoRoot, 'bin/kubectl-shadowkeep');

describe('kubectl shadowkeep restore, verify and plan', function () {
  this.timeout(180_000);
  let env: Environment;
  let out: string;
  const vmName = `files-${randomBytes(2).toString('hex')}`;
  const notes = randomBytes(150_000);
  let first: string;
  let second: string;

  const kubectlShadowkeep = (...args: string[]) =>
    execa(plugin, [...args, '-n', env.namespace], {
      reject: false,
      env: { KUBECONFIG: process.env.KUBECONFIG ?? '', NO_COLOR: '1' },
    });

  before(async () => {
    env = await startEnvironment({ nodes: 2 });
    out = await mkdtemp(path.join(tmpdir(), 'sk-plugin-'));
    const vm = await env.sim.createVm({
      name: vmName,
      owner: env.nodes[0]!,
      storage: env.sim.layout.csvVolume('Volume1'),
      disks: [{ kind: 'Ntfs', sizeBytes: 24 * MiB, files: [{ name: 'notes.bin', data: notes }] }],
      running: true,
    });
    await env.clients.protections.create({
      apiVersion: 'shadowkeep.io/v1alpha1',
      kind: 'VirtualMachineProtection',
      metadata: { name: 'files-tier', namespace: env.namespace },
      spec: {
        selector: { names: [vmName] },
        schedule: { cron: '0 0 1 1 *' }, // yearly: no scheduled point during the test
        repository: 'primary',
        retention: { keepLast: 5 },
        verification: { schedule: { cron: '0 0 1 1 *' }, level: 'Filesystem' },
      },
    });
    await eventually(
      async () => {
        const inventory = await env.clients.vms.get(vm.id.toLowerCase());
        expect(inventory?.status?.protectedBy?.map((p) => p.name)).to.deep.equal(['files-tier']);
      },
      { what: 'the VM to be protected' },
    );
    const full = await kubectlShadowkeep('backup', vmName);
    expect(full.exitCode, full.stderr).to.equal(0);
    await env.sim.guestWrite(vm.id, 12 * MiB, randomBytes(MiB));
    // On-demand point names carry the second: make sure the second point gets another one.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const incremental = await kubectlShadowkeep('backup', vmName);
    expect(incremental.exitCode, incremental.stderr).to.equal(0);
    const { items } = await env.clients.recoveryPoints.list(env.namespace, {
      labelSelector: `${labels.vm}=${vmName}`,
    });
    [first, second] = items
      .sort((a, b) => (a.status?.pointInTime ?? '').localeCompare(b.status?.pointInTime ?? ''))
      .map((p) => p.metadata.name) as [string, string];
  });

  after(async () => {
    await env.stop();
    await rm(out, { recursive: true, force: true });
  });

  it('plans storage from the measured change rate of the incremental point', async () => {
    const result = await kubectlShadowkeep(
      'plan',
      'files-tier',
      '--controller-namespace',
      env.namespace,
      '-o',
      'json',
    );
    expect(result.exitCode, result.stderr).to.equal(0);
    const plan = JSON.parse(result.stdout) as PolicyPlan;
    const [row] = plan.vms;
    expect(row).to.include({ vm: vmName, mode: 'Online', recoveryPoints: 2 });
    expect(row?.kept.map((k) => k.name).sort()).to.deep.equal([first, second].sort());
    expect(row?.changePerPoint).to.be.greaterThan(0);
    expect(row?.projectedBytes).to.equal((row?.storedFullBytes ?? 0) + 4 * (row?.changePerPoint ?? 0));
    expect(plan.repositories[0]).to.include({ repository: 'primary', role: 'primary', keptPerVM: 5 });
    expect(plan.verification).to.include({ level: 'Filesystem' });
    const table = await kubectlShadowkeep('plan', 'files-tier', '--controller-namespace', env.namespace);
    expect(table.stdout).to.match(/^VM\s+MODE\s+NEXT-RUN\s+POINTS\s+KEPT/m);
    expect(table.stdout).to.contain('Repository primary (primary): 5 points per VM kept; projected');
  });

  it('restores a file out of a recovery point and waits until it is there', async () => {
    const destination = path.join(out, 'items');
    const result = await kubectlShadowkeep(
      'restore',
      first,
      '--to',
      'items',
      '--item',
      'C:\\notes.bin',
      '--destination',
      destination,
    );
    expect(result.exitCode, result.stderr).to.equal(0);
    expect(result.stdout).to.match(/virtualmachinerestore\/\S+ Completed: 1 of 1 items restored/);
    expect(result.stdout).to.contain('C:\\notes.bin: Restored');
    expect((await readFile(path.join(destination, 'notes.bin'))).equals(notes)).to.be.true;
  });

  it('restores the VM as a copy on the other node and starts it', async () => {
    const folder = path.join(env.sim.layout.localStorage(env.nodes[1]!), 'copies');
    const result = await kubectlShadowkeep(
      'restore',
      second,
      '--to',
      'host',
      '--node',
      env.nodes[1]!,
      '--path',
      folder,
      '--new-name',
      `${vmName}-copy`,
      '--start',
      '-o',
      'json',
    );
    expect(result.exitCode, result.stderr).to.equal(0);
    const restore = JSON.parse(result.stdout) as { status: { restoredVM: { id: string; name: string } } };
    expect(restore.status.restoredVM.name).to.equal(`${vmName}-copy`);
    const copy = await env.sim.vm(restore.status.restoredVM.id);
    expect(copy).to.include({ owner: env.nodes[1], state: 'Running' });
  });

  it('refuses to overwrite the running VM and says how to allow it', async () => {
    const result = await kubectlShadowkeep('restore', first, '--to', 'original');
    expect(result.exitCode).to.equal(1);
    expect(result.stderr).to.match(/Failed: VMRunning: .*stopRunningVM: true/);
  });

  it('refuses an incomplete command line before creating anything', async () => {
    const result = await kubectlShadowkeep('restore', first, '--to', 'host', '--path', 'D:\\R');
    expect(result.exitCode).to.equal(2);
    expect(result.stderr).to.contain('--to host needs --node');
  });

  it('verifies a recovery point on request and prints what was checked', async () => {
    const result = await kubectlShadowkeep('verify', first, '--level', 'Filesystem');
    expect(result.exitCode, result.stderr).to.equal(0);
    expect(result.stdout).to.match(
      new RegExp(`recoverypoint/${first} verification Passed \\(Filesystem\\): \\d+ chunks .* 1 NTFS volume`),
    );
    const rp = await env.clients.recoveryPoints.get(first, env.namespace);
    expect(rp?.status?.conditions?.find((c) => c.type === 'Verified')?.status).to.equal('True');
  });
});
