/**
 * The Argo CD health check in docs/gitops.md, taken from the page and run with Lua 5.4 against
 * objects the controller and a filehost agent really produced, in each state a person would see.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { config, expect } from 'chai';
import { execa } from 'execa';
import { load } from 'js-yaml';
import type { KubeObject } from '../../../controller/kube/objects.js';
import { eventually } from '../../support/eventually.js';
import { repoRoot } from '../../support/kube.js';
import { startEnvironment, type Environment } from '../../support/shadowkeep-env.js';

config.truncateThreshold = 0;
const MiB = 1024 * 1024;
const healthKey = 'resource.customizations.health.shadowkeep.io_*';

/** The argocd-cm snippet of docs/gitops.md and the script under its health key. */
async function scriptFromDocs(): Promise<string> {
  const page = await readFile(path.join(repoRoot, 'docs/gitops.md'), 'utf8');
  const block = [...page.matchAll(/```yaml\n([\s\S]*?)```/g)]
    .map((m) => m[1] ?? '')
    .find((b) => b.includes(healthKey));
  const configMap = load(block ?? '') as { data?: Record<string, string> };
  const script = configMap.data?.[healthKey];
  if (!script) {
    throw new Error(`docs/gitops.md has no argocd-cm snippet with ${healthKey}`);
  }
  return script;
}

/** A JSON value as a Lua table constructor, the way Argo CD hands objects to health scripts. */
function luaLiteral(value: unknown): string {
  if (value === null || value === undefined) {
    return 'nil';
  }
  if (typeof value === 'string') {
    // Three-digit byte escapes keep any UTF-8 intact, and no character can end the string early.
    return `"${[...Buffer.from(value, 'utf8')].map((b) => (b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : `\\${String(b).padStart(3, '0')}`)).join('')}"`;
  }
  if (typeof value === 'number' || typeof value === 'boolean') {
    return String(value);
  }
  if (Array.isArray(value)) {
    return `{${value.map(luaLiteral).join(', ')}}`;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== null);
  return `{${entries.map(([k, v]) => `[${luaLiteral(k)}] = ${luaLiteral(v)}`).join(', ')}}`;
}

const runner = `
local check = assert(loadfile(arg[1]))
obj = dofile(arg[2])
local hs = check()
io.write(hs.status, "\\n", hs.message or "", "\\n")
`;

describe('the Argo CD health check for shadowkeep.io kinds', function () {
  this.timeout(180_000);
  let env: Environment;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sk-argocd-'));
    await writeFile(path.join(dir, 'health.lua'), await scriptFromDocs());
    await writeFile(path.join(dir, 'runner.lua'), runner);
    env = await startEnvironment({ nodes: 2 });
  });

  after(async () => {
    await env.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** What Argo CD would show for the object as the API server returns it now. */
  async function health(object: KubeObject | undefined): Promise<{ status: string; message: string }> {
    expect(object, 'the object').to.not.equal(undefined);
    const file = path.join(dir, `${object!.metadata.name}.lua`);
    await writeFile(file, `return ${luaLiteral(object)}\n`);
    const { stdout } = await execa('lua5.4', [
      path.join(dir, 'runner.lua'),
      path.join(dir, 'health.lua'),
      file,
    ]);
    const [status = '', message = ''] = stdout.split('\n');
    return { status, message };
  }

  async function becomes(
    fetch: () => Promise<KubeObject | undefined>,
    status: string,
  ): Promise<{ status: string; message: string }> {
    return eventually(
      async () => {
        const seen = await health(await fetch());
        expect(seen.status, seen.message).to.equal(status);
        return seen;
      },
      { timeoutMs: 60_000, what: `health ${status}` },
    );
  }

  const point = (name: string) => () => env.clients.recoveryPoints.get(name, env.namespace);
  const policy = (name: string) => () => env.clients.protections.get(name, env.namespace);
  const restore = (name: string) => () => env.clients.restores.get(name, env.namespace);

  it('reads policies: protecting, misconfigured, suspended', async () => {
    const [node1] = env.nodes as [string];
    const vm = await env.sim.createVm({
      name: 'argo01',
      owner: node1,
      storage: env.sim.layout.csvVolume('Volume1'),
      disks: [{ kind: 'Blank', sizeBytes: 8 * MiB }],
      running: true,
    });
    // Policies created before the inventory lists the VM are Ready with nothing to protect yet.
    await eventually(async () => expect(await env.clients.vms.get(vm.id)).to.not.equal(undefined), {
      what: 'the inventory',
    });
    const spec = {
      selector: { names: ['argo01'] },
      schedule: { cron: '0 0 1 1 *' },
      repository: 'primary',
      retention: { keepLast: 3 },
    };
    // Applied, not created: a retry of this test finds the policies of the first attempt.
    const create = (name: string, extra: object) =>
      env.clients.protections.apply(
        {
          apiVersion: 'shadowkeep.io/v1alpha1',
          kind: 'VirtualMachineProtection',
          metadata: { name, namespace: env.namespace },
          spec: { ...spec, ...extra },
        },
        'argocd-health-test',
      );
    await create('argo-ok', {});
    await create('argo-norepo', { repository: 'nowhere' });
    await create('argo-paused', { suspend: true });
    expect((await becomes(policy('argo-ok'), 'Healthy')).message).to.contain('1 of 1 selected VMs protected');
    expect((await becomes(policy('argo-norepo'), 'Degraded')).message).to.match(
      /^RepositoryNotFound: BackupRepository 'nowhere' does not exist/,
    );
    expect((await becomes(policy('argo-paused'), 'Suspended')).message).to.contain('spec.suspend');
  });

  it('reads recovery points: completed, failed with the reason, waiting for an agent', async () => {
    const [node1, node2] = env.nodes as [string, string];
    const storage = env.sim.layout.csvVolume('Volume1');
    const disks = [{ kind: 'Blank' as const, sizeBytes: 8 * MiB }];
    const good = await env.sim.createVm({ name: 'argo-good', owner: node1, storage, disks, running: true });
    const bad = await env.sim.createVm({ name: 'argo-bad', owner: node1, storage, disks, running: true });
    await env.sim.setFaults(bad.id, { snapshotFailure: true });
    // On its node's own disk: a point waiting there must not hold the CSV's backup slot.
    const waiting = await env.sim.createVm({
      name: 'argo-wait',
      owner: node2,
      storage: env.sim.layout.localStorage(node2),
      disks,
      running: true,
    });
    await eventually(async () => expect(await env.clients.vms.get(waiting.id)).to.not.equal(undefined), {
      what: 'the inventory',
    });
    await env.stopAgent(node2);
    const backUp = (name: string, vm: { name: string; id: string }) =>
      env.clients.recoveryPoints.create({
        apiVersion: 'shadowkeep.io/v1alpha1',
        kind: 'RecoveryPoint',
        metadata: { name, namespace: env.namespace },
        spec: { vm: { name: vm.name, id: vm.id }, repository: 'primary' },
      });
    // One at a time: the first backup creates the empty repository, and the others follow it.
    await backUp('argo-good-1', good);
    expect(await becomes(point('argo-good-1'), 'Healthy')).to.deep.equal({
      status: 'Healthy',
      message: 'Completed',
    });
    await backUp('argo-bad-1', bad);
    expect((await becomes(point('argo-bad-1'), 'Degraded')).message).to.match(/^SnapshotFailed: /);
    await backUp('argo-wait-1', waiting);
    // No agent on node 2: the controller holds the point Pending and says why.
    await eventually(
      async () => {
        const pending = await health(await point('argo-wait-1')());
        expect(pending.status).to.equal('Progressing');
        expect(pending.message).to.match(/^Pending: \w+: /);
      },
      { what: 'the waiting point to say why it waits' },
    );
  });

  it('reads restores and repositories: done, failed, available, unusable', async () => {
    const [node1] = env.nodes as [string];
    const create = (name: string, recoveryPoint: string) =>
      env.clients.restores.create({
        apiVersion: 'shadowkeep.io/v1alpha1',
        kind: 'VirtualMachineRestore',
        metadata: { name, namespace: env.namespace },
        spec: { recoveryPoint, target: { type: 'Disks', nodeName: node1, path: path.join(dir, name) } },
      });
    await create('argo-restore-ok', 'argo-good-1');
    await create('argo-restore-missing', 'no-such-point');
    await becomes(restore('argo-restore-ok'), 'Healthy');
    expect((await becomes(restore('argo-restore-missing'), 'Degraded')).message).to.match(
      /^RecoveryPointNotFound: /,
    );

    await becomes(() => env.clients.repositories.get('primary', env.namespace), 'Healthy');
    await env.clients.repositories.create({
      apiVersion: 'shadowkeep.io/v1alpha1',
      kind: 'BackupRepository',
      metadata: { name: 'keyless', namespace: env.namespace },
      spec: { type: 'Filesystem', filesystem: { path: dir }, encryptionKeySecret: 'no-such-secret' },
    });
    expect(
      (await becomes(() => env.clients.repositories.get('keyless', env.namespace), 'Degraded')).message,
    ).to.match(/^SecretNotFound: /);
    await becomes(() => env.clients.hosts.get(node1), 'Healthy');
  });
});
