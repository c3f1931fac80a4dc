/**
 * Mocha root hook plugin for the integration tier (hack/run-tests.sh passes it with --require).
 *
 * Before any test: makes sure KUBECONFIG names a running control plane (starting one with
 * `hack/control-plane up` when it is unset, and stopping that one afterwards), then installs every
 * CRD from crds/ with server-side apply and waits until the API server serves them.
 */
import path from 'node:path';
import { execa } from 'execa';
import { repoRoot } from '../support/kube.js';

const controlPlane = path.join(repoRoot, 'hack/control-plane');
let startedHere = false;

/** Runs a command from the repository root with the project's tools first on PATH. */
async function run(file: string, args: string[]): Promise<string> {
  const { stdout } = await execa(file, args, {
    cwd: repoRoot,
    env: { PATH: `${path.join(repoRoot, '.cache/bin')}${path.delimiter}${process.env.PATH ?? ''}` },
    stderr: 'inherit',
  });
  return stdout.trim();
}

export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    // A cold start builds kube-apiserver and etcd from source; later starts take seconds.
    this.timeout(20 * 60_000);
    if (!process.env.KUBECONFIG) {
      process.env.KUBECONFIG = await run(controlPlane, ['up']);
      startedHere = true;
    }
    await run('kubectl', ['apply', '--server-side', '--force-conflicts', '-f', 'crds/']);
    await run('kubectl', ['wait', '--for=condition=Established', '--timeout=60s', '-f', 'crds/']);
  },

  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(60_000);
    if (startedHere) {
      await run(controlPlane, ['down']);
    }
  },
};
