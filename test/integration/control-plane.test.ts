// The foundation's promises (issue 2): the local control plane is a real Kubernetes API server that
// serves our CRDs to client-node and kubectl alike, and `hack/control-plane` manages it cleanly.
import { readFile, mkdtemp, rm, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Watch, type KubernetesObject } from '@kubernetes/client-node';
import { expect } from 'chai';
import { execa } from 'execa';
import { eventually } from '../support/eventually.js';
import { apply, connect, kubectl, mergePatch, repoRoot, useNamespace } from '../support/kube.js';

interface RecoveryPointLike extends KubernetesObject {
  status?: { phase?: string };
}

describe('the local control plane', () => {
  const namespace = useNamespace('control-plane');

  it('serves a CRD: objects are created, watched, status-patched and shown by kubectl get', async () => {
    const crd = await readFile(path.join(repoRoot, 'crds/shadowkeep.io_recoverypoints.yaml'), 'utf8');
    // As the field manager kubectl uses (like the root hook), so a later `kubectl apply
    // --server-side -f crds/` of an edited CRD does not conflict with this test's apply.
    await apply(crd, { fieldManager: 'kubectl' });
    await apply(
      {
        apiVersion: 'shadowkeep.io/v1alpha1',
        kind: 'RecoveryPoint',
        metadata: { name: 'sql01-manual' },
        spec: { vm: { name: 'sql01' }, repository: 'primary' },
      },
      { namespace: namespace.name },
    );

    const phasesSeen: string[] = [];
    const watching = await new Watch(connect().config).watch(
      `/apis/shadowkeep.io/v1alpha1/namespaces/${namespace.name}/recoverypoints`,
      {},
      (_type, object: RecoveryPointLike) => phasesSeen.push(object.status?.phase ?? '(none)'),
      () => undefined,
    );
    try {
      await connect().custom.patchNamespacedCustomObjectStatus(
        {
          group: 'shadowkeep.io',
          version: 'v1alpha1',
          plural: 'recoverypoints',
          namespace: namespace.name,
          name: 'sql01-manual',
          body: { status: { phase: 'Completed', nodeName: 'hv-node-1' } },
        },
        mergePatch,
      );
      await eventually(() => expect(phasesSeen).to.include('Completed'), {
        what: 'the watch to deliver the status change',
        timeoutMs: 10_000,
      });
    } finally {
      watching.abort();
    }
    expect(phasesSeen[0], 'the watch first lists the object as created').to.equal('(none)');

    const listing = await kubectl(['get', 'recoverypoints', '-n', namespace.name]);
    expect(listing.exitCode, listing.stderr).to.equal(0);
    expect(listing.stdout).to.match(/sql01-manual\s+sql01\s+hv-node-1\s+Completed/);
  });
});

describe('hack/control-plane', function () {
  // Two `up`s start real etcd and kube-apiserver processes (binaries are cached by then).
  this.timeout(180_000);
  let stateDir = '';

  before(async () => {
    stateDir = await mkdtemp(path.join(os.tmpdir(), 'shadowkeep-cp-'));
  });
  after(async () => {
    await execa(path.join(repoRoot, 'hack/control-plane'), ['down'], {
      reject: false,
      env: { SHADOWKEEP_CONTROL_PLANE_DIR: stateDir },
    });
    await rm(stateDir, { recursive: true, force: true });
  });

  /** Runs the script on the test's own state folder, so it never touches the suite's control plane. */
  const controlPlane = (command: string) =>
    execa(path.join(repoRoot, 'hack/control-plane'), [command], {
      env: { SHADOWKEEP_CONTROL_PLANE_DIR: stateDir },
      stderr: 'inherit',
    });

  /** The process ids the script recorded for the components it started. */
  async function recordedPids(): Promise<number[]> {
    const files = (await readdir(stateDir)).filter((file) => file.endsWith('.pid'));
    return Promise.all(
      files.map(async (file) => Number((await readFile(path.join(stateDir, file), 'utf8')).trim())),
    );
  }

  it('reuses a running control plane on a second up, and down leaves no process running', async () => {
    const first = await controlPlane('up');
    const firstUrl = await readFile(path.join(stateDir, 'apiserver-url'), 'utf8');
    const pids = await recordedPids();
    expect(pids, 'etcd, kube-apiserver and kube-controller-manager').to.have.length(3);

    const second = await controlPlane('up');
    expect(second.stdout, 'the same kubeconfig').to.equal(first.stdout);
    expect(await readFile(path.join(stateDir, 'apiserver-url'), 'utf8'), 'the same API server').to.equal(
      firstUrl,
    );
    expect(await recordedPids(), 'no new processes').to.have.members(pids);

    await controlPlane('down');
    const stillRunning = (
      await Promise.all(pids.map(async (pid) => ((await isRunning(pid)) ? pid : undefined)))
    ).filter((pid) => pid !== undefined);
    expect(stillRunning, 'processes alive after down').to.be.empty;
  });
});

/** True when the process exists and is not a zombie (an exited process its parent has not reaped). */
async function isRunning(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The state letter follows the parenthesised command name, which may itself contain spaces.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
