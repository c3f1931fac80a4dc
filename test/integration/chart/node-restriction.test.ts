// The agent node restriction (issue 10, item 1): every agent has the same RBAC rights, and the
// chart's ValidatingAdmissionPolicy confines each to its own node's HyperVHost, VMs and recovery
// points, using the node name the API server binds into a pod's service-account token. The control
// plane has no kubelet, but it issues the same tokens: a Node object and a Pod bound to it (never
// run) are enough for `kubectl create token --bound-object-kind Pod` to carry the node's name.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { apply, connect, kubectl, type KubectlResult, useNamespace } from '../../support/kube.js';
import { eventually } from '../../support/eventually.js';
import { chartDir, helm, setArgs } from './helm.js';

const suffix = Math.random().toString(36).slice(2, 7);
const nodeA = `hv-${suffix}-a`;
const nodeB = `hv-${suffix}-b`;
const release = `skn-${suffix}`;

/** A fresh lower-case GUID-shaped VM ID for names that must be unique per run. */
function vmId(tag: string): string {
  const hex = Buffer.from(`${suffix}${tag}`).toString('hex').padEnd(12, '0').slice(0, 12);
  return `5ad0ee00-0000-4000-8000-${hex}`;
}

describe('the agent node-restriction admission policy', () => {
  const namespace = useNamespace('chart-agents');
  let dir = '';
  /** kubeconfig files that authenticate with a token only (no admin client certificate). */
  const asAgentOf: Record<string, string> = {};
  let asUnboundAgent = '';
  const ids = { a: vmId('a'), b: vmId('b'), c: vmId('c') };

  const run = (kubeconfig: string, args: string[], input?: string): Promise<KubectlResult> =>
    kubectl(['--kubeconfig', kubeconfig, ...args], input === undefined ? {} : { input });

  const patchStatus = (kubeconfig: string, resource: string, name: string, status: object, ns?: string) =>
    run(kubeconfig, [
      'patch',
      resource,
      name,
      ...(ns ? ['-n', ns] : []),
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status }),
    ]);

  /** Sets (`key=value`) or removes (`key-`) a label of a recovery point in the test namespace. */
  const labelPoint = (kubeconfig: string, point: string, label: string) =>
    run(kubeconfig, ['label', 'recoverypoint', point, '-n', namespace.name, label, '--overwrite']);

  const expectAllowed = (result: KubectlResult) => {
    expect(result.exitCode, result.stderr).to.equal(0);
  };
  const expectRefused = (result: KubectlResult, why: RegExp) => {
    expect(result.exitCode, `accepted: ${result.stdout}`).to.not.equal(0);
    expect(result.stderr).to.match(/ValidatingAdmissionPolicy '.*-agent-node-restriction'/);
    expect(result.stderr).to.match(why);
  };

  before(async function () {
    this.timeout(60_000);
    const install = await helm([
      'install',
      release,
      chartDir,
      '--namespace',
      namespace.name,
      ...setArgs({ 'crds.enabled': false }),
    ]);
    expect(install.exitCode, install.stderr).to.equal(0);
    const agentAccount = `${release}-shadowkeep-agent`;

    // Two Windows nodes and one agent pod bound to each (the scheduler's job done by hand).
    for (const node of [nodeA, nodeB]) {
      await apply({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: node, labels: { 'kubernetes.io/os': 'windows' } },
      });
      await apply(
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `agent-${node}` },
          spec: {
            nodeName: node,
            serviceAccountName: agentAccount,
            containers: [{ name: 'agent', image: 'agent' }],
          },
        },
        { namespace: namespace.name },
      );
    }

    const cluster = connect().config.getCurrentCluster();
    if (!cluster) {
      throw new Error('no current cluster in KUBECONFIG');
    }
    dir = await mkdtemp(path.join(os.tmpdir(), 'sk-agent-tokens-'));
    const kubeconfigFor = async (name: string, token: string): Promise<string> => {
      const file = path.join(dir, name);
      const ca = cluster.caData
        ? { 'certificate-authority-data': cluster.caData }
        : { 'certificate-authority': cluster.caFile };
      await writeFile(
        file,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: 'c', cluster: { server: cluster.server, ...ca } }],
          users: [{ name: 'u', user: { token } }],
          contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
          'current-context': 'c',
        }),
      );
      return file;
    };
    for (const node of [nodeA, nodeB]) {
      const token = await kubectl([
        'create',
        'token',
        agentAccount,
        '-n',
        namespace.name,
        '--bound-object-kind',
        'Pod',
        '--bound-object-name',
        `agent-${node}`,
      ]);
      expect(token.exitCode, token.stderr).to.equal(0);
      asAgentOf[node] = await kubeconfigFor(node, token.stdout.trim());
    }
    const unbound = await kubectl(['create', 'token', agentAccount, '-n', namespace.name]);
    asUnboundAgent = await kubeconfigFor('unbound', unbound.stdout.trim());

    // What the token tells the API server: the node of the pod it is bound to.
    const whoami = await run(asAgentOf[nodeA] ?? '', ['auth', 'whoami', '-o', 'json']);
    const review = JSON.parse(whoami.stdout) as {
      status: { userInfo: { extra?: Record<string, string[]> } };
    };
    expect(review.status.userInfo.extra?.['authentication.kubernetes.io/node-name']).to.deep.equal([nodeA]);

    // Objects of node B, made by an administrator.
    await apply({
      apiVersion: 'shadowkeep.io/v1alpha1',
      kind: 'HyperVHost',
      metadata: { name: nodeB },
      spec: {},
    });
    await apply({
      apiVersion: 'shadowkeep.io/v1alpha1',
      kind: 'HyperVVirtualMachine',
      metadata: { name: ids.b, labels: { 'shadowkeep.io/node': nodeB } },
      spec: { id: ids.b },
    });
    for (const node of [nodeA, nodeB]) {
      await apply(
        {
          apiVersion: 'shadowkeep.io/v1alpha1',
          kind: 'RecoveryPoint',
          metadata: { name: `sql01-${node}`, labels: { 'shadowkeep.io/node': node } },
          spec: { vm: { name: 'sql01' }, repository: 'primary' },
        },
        { namespace: namespace.name },
      );
      await apply(
        {
          apiVersion: 'shadowkeep.io/v1alpha1',
          kind: 'VirtualMachineRestore',
          metadata: { name: `files-${node}`, labels: { 'shadowkeep.io/node': node } },
          spec: {
            recoveryPoint: `sql01-${node}`,
            target: { type: 'Items', items: { paths: ['C:\\a.txt'], destination: '\\\\fs01\\r' } },
          },
        },
        { namespace: namespace.name },
      );
    }
  });

  before(async function () {
    this.timeout(30_000);
    // The API server loads a new policy asynchronously: wait until it refuses a cross-node write.
    await eventually(
      async () => {
        const probe = await run(asAgentOf[nodeA] ?? '', [
          'patch',
          'hypervhost',
          nodeB,
          '--dry-run=server',
          '--type=merge',
          '-p',
          '{"metadata":{"annotations":{"probe":"x"}}}',
        ]);
        if (!probe.stderr.includes('agent-node-restriction')) {
          throw new Error(`not refused by the policy yet: ${probe.stdout}${probe.stderr}`);
        }
      },
      { what: 'the node-restriction policy to be in force', intervalMs: 200 },
    );
  });

  after(async function () {
    this.timeout(60_000);
    await helm(['uninstall', release, '--namespace', namespace.name]);
    await kubectl(['delete', 'node', nodeA, nodeB, '--ignore-not-found']);
    await kubectl(['delete', 'hypervhost', nodeA, nodeB, '--ignore-not-found']);
    await kubectl(['delete', 'hypervvirtualmachine', ids.a, ids.b, ids.c, '--ignore-not-found']);
    if (dir) {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('lets an agent create and heartbeat its own HyperVHost, and no other', async () => {
    const own = `{"apiVersion":"shadowkeep.io/v1alpha1","kind":"HyperVHost","metadata":{"name":"${nodeA}"},"spec":{}}`;
    expectAllowed(await run(asAgentOf[nodeA] ?? '', ['create', '-f', '-'], own));
    expectAllowed(
      await patchStatus(asAgentOf[nodeA] ?? '', 'hypervhost', nodeA, {
        heartbeatTime: new Date().toISOString(),
      }),
    );

    expectRefused(
      await patchStatus(asAgentOf[nodeA] ?? '', 'hypervhost', nodeB, {
        heartbeatTime: new Date().toISOString(),
      }),
      new RegExp(`agent of node ${nodeA} may write only the HyperVHost ${nodeA}, not ${nodeB}`),
    );
    const other = own.replace(nodeA, `${nodeA}-x`);
    expectRefused(
      await run(asAgentOf[nodeA] ?? '', ['create', '-f', '-'], other),
      /may write only the HyperVHost/,
    );
  });

  it("lets an agent publish and take over VMs labelled with its node, and not touch another node's", async () => {
    const vm = (id: string, node: string) =>
      JSON.stringify({
        apiVersion: 'shadowkeep.io/v1alpha1',
        kind: 'HyperVVirtualMachine',
        metadata: { name: id, labels: { 'shadowkeep.io/node': node } },
        spec: { id },
      });
    expectAllowed(await run(asAgentOf[nodeA] ?? '', ['create', '-f', '-'], vm(ids.a, nodeA)));
    expectAllowed(await patchStatus(asAgentOf[nodeA] ?? '', 'hypervvirtualmachine', ids.a, { host: nodeA }));

    // Publishing a VM as another node's, writing or deleting another node's VM: refused.
    expectRefused(
      await run(asAgentOf[nodeA] ?? '', ['create', '-f', '-'], vm(ids.c, nodeB)),
      /HyperVVirtualMachines labelled/,
    );
    expectRefused(
      await patchStatus(asAgentOf[nodeA] ?? '', 'hypervvirtualmachine', ids.b, { host: nodeB }),
      new RegExp(`${ids.b} is labelled ${nodeB}`),
    );
    expectRefused(
      await run(asAgentOf[nodeA] ?? '', ['delete', 'hypervvirtualmachine', ids.b]),
      /HyperVVirtualMachines labelled/,
    );

    // Its owner may delete it; the VM that live-migrated to node B is taken over by relabelling.
    expectAllowed(await run(asAgentOf[nodeB] ?? '', ['delete', 'hypervvirtualmachine', ids.b]));
    expectAllowed(
      await run(asAgentOf[nodeB] ?? '', [
        'label',
        'hypervvirtualmachine',
        ids.a,
        `shadowkeep.io/node=${nodeB}`,
        '--overwrite',
      ]),
    );
  });

  it("lets an agent write the recovery points assigned to its node, and neither another node's nor a reassignment", async () => {
    const ns = namespace.name;
    expectAllowed(
      await patchStatus(
        asAgentOf[nodeA] ?? '',
        'recoverypoint',
        `sql01-${nodeA}`,
        { phase: 'Snapshotting' },
        ns,
      ),
    );
    expectRefused(
      await patchStatus(
        asAgentOf[nodeA] ?? '',
        'recoverypoint',
        `sql01-${nodeB}`,
        { phase: 'Snapshotting' },
        ns,
      ),
      new RegExp(`may write only RecoveryPoints labelled shadowkeep.io/node=${nodeA}`),
    );
    // Claiming node B's point by relabelling it, or handing its own point to node B: refused.
    expectRefused(
      await labelPoint(asAgentOf[nodeA] ?? '', `sql01-${nodeB}`, `shadowkeep.io/node=${nodeA}`),
      /may write only RecoveryPoints/,
    );
    expectRefused(
      await labelPoint(asAgentOf[nodeA] ?? '', `sql01-${nodeA}`, `shadowkeep.io/node=${nodeB}`),
      /may write only RecoveryPoints/,
    );
  });

  it("lets an agent report on the restores assigned to its node, not on another node's", async () => {
    const ns = namespace.name;
    expectAllowed(
      await patchStatus(
        asAgentOf[nodeA] ?? '',
        'virtualmachinerestore',
        `files-${nodeA}`,
        { phase: 'Restoring' },
        ns,
      ),
    );
    expectRefused(
      await patchStatus(
        asAgentOf[nodeA] ?? '',
        'virtualmachinerestore',
        `files-${nodeB}`,
        { phase: 'Restoring' },
        ns,
      ),
      new RegExp(`may write only VirtualMachineRestores labelled shadowkeep.io/node=${nodeA}`),
    );
    // RBAC, not the policy, keeps it from relabelling a restore: it may not patch the object at all.
    const relabel = await run(asAgentOf[nodeA] ?? '', [
      'label',
      'virtualmachinerestore',
      `files-${nodeB}`,
      '-n',
      ns,
      `shadowkeep.io/node=${nodeA}`,
      '--overwrite',
    ]);
    expect(relabel.exitCode).to.not.equal(0);
    expect(relabel.stderr).to.match(/forbidden/i);
  });

  it("refuses an agent's writes to another node's recovery point through the object itself, and un-assigning its own", async () => {
    const ns = namespace.name;
    // Annotations and finalizers live on the object, not its status: a finalizer would block deletion.
    expectRefused(
      await run(asAgentOf[nodeA] ?? '', ['annotate', 'recoverypoint', `sql01-${nodeB}`, '-n', ns, 'probe=x']),
      /may write only RecoveryPoints/,
    );
    expectRefused(
      await run(asAgentOf[nodeA] ?? '', [
        'patch',
        'recoverypoint',
        `sql01-${nodeB}`,
        '-n',
        ns,
        '--type=merge',
        '-p',
        '{"metadata":{"finalizers":["example.com/hold"]}}',
      ]),
      /may write only RecoveryPoints/,
    );
    // Dropping the node label would leave the point to no agent (or to whichever claims it next).
    expectRefused(
      await labelPoint(asAgentOf[nodeA] ?? '', `sql01-${nodeA}`, 'shadowkeep.io/node-'),
      /may write only RecoveryPoints/,
    );
    // The same rules hold the other way round: node B's agent cannot touch node A's point.
    expectRefused(
      await patchStatus(asAgentOf[nodeB] ?? '', 'recoverypoint', `sql01-${nodeA}`, { phase: 'Failed' }, ns),
      new RegExp(`may write only RecoveryPoints labelled shadowkeep.io/node=${nodeB}`),
    );
  });

  it('refuses the agent account when its token carries no node name', async () => {
    expectRefused(
      await patchStatus(asUnboundAgent, 'hypervhost', nodeA, { heartbeatTime: new Date().toISOString() }),
      /carry no node name/,
    );
  });

  it('reads the node name from the user extra, as impersonation with the same extra shows', async () => {
    const agentUser = `system:serviceaccount:${namespace.name}:${release}-shadowkeep-agent`;
    const status = JSON.stringify({ status: { heartbeatTime: new Date().toISOString() } });
    const asImpersonated = (node: string) =>
      kubectl([
        'patch',
        'hypervhost',
        nodeA,
        '--subresource=status',
        '--type=merge',
        '-p',
        status,
        '--as',
        agentUser,
        '--as-user-extra',
        `authentication.kubernetes.io/node-name=${node}`,
      ]);
    expectAllowed(await asImpersonated(nodeA));
    expectRefused(await asImpersonated(nodeB), /may write only the HyperVHost/);
  });

  it('leaves people and the controller alone', async () => {
    // The administrator (and any account other than the agents') is not matched by the policy.
    expectAllowed(
      await kubectl([
        'label',
        'recoverypoint',
        `sql01-${nodeB}`,
        '-n',
        namespace.name,
        `shadowkeep.io/node=${nodeA}`,
        '--overwrite',
      ]),
    );
  });
});
