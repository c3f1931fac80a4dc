/**
 * Mocha root hook plugin for the integration tier (hack/run-tests.sh passes it with --require).
 *
 * Before any test: makes sure KUBECONFIG names a running control plane (starting one with
 * `hack/control-plane up` when it is unset, and stopping that one afterwards), then installs every
 * CRD from crds/ with server-side apply and waits until the API server serves them.
 */
import path from 'node:path';
import { execa } from 'execa';
import { allResources } from '../../controller/api/index.js';
import { eventually } from '../support/eventually.js';
import { repoRoot, toolsEnv } from '../support/kube.js';

const controlPlane = path.join(repoRoot, 'hack/control-plane');
let startedHere = false;

/**
 * Runs a command from the repository root with the project's tools first on PATH. Its stderr shows
 * only with `progress` (a cold control plane start builds for minutes); otherwise it is part of the
 * error when the command fails.
 */
async function run(file: string, args: string[], { progress = false } = {}): Promise<string> {
  const { stdout } = await execa(file, args, {
    cwd: repoRoot,
    env: toolsEnv,
    stderr: progress ? 'inherit' : 'pipe',
  });
  return stdout.trim();
}

export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    // A cold start builds kube-apiserver and etcd from source; later starts take seconds.
    this.timeout(20 * 60_000);
    if (!process.env.KUBECONFIG) {
      process.env.KUBECONFIG = await run(controlPlane, ['up'], { progress: true });
      startedHere = true;
    }
    await run('kubectl', ['apply', '--server-side', '--force-conflicts', '-f', 'crds/']);
    await run('kubectl', ['wait', '--for=condition=Established', '--timeout=60s', '-f', 'crds/']);
    // Established comes a moment before API discovery lists the kinds; until then kubectl would
    // answer `kubectl get vmp` with "the server doesn't have a resource type".
    await eventually(
      async () => {
        const served = (
          await run('kubectl', ['api-resources', '--api-group=shadowkeep.io', '-o', 'name'])
        ).split('\n');
        const missing = allResources.filter(
          (resource) => !served.includes(`${resource.plural}.${resource.group}`),
        );
        if (missing.length > 0) {
          throw new Error(`not yet discoverable: ${missing.map((resource) => resource.kind).join(', ')}`);
        }
      },
      { what: 'kubectl to discover the shadowkeep.io kinds', intervalMs: 250 },
    );
  },

  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(60_000);
    if (startedHere) {
      await run(controlPlane, ['down'], { progress: true });
    }
  },
};
