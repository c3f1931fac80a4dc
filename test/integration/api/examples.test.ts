// The manifests in examples/ are what platform teams copy into git: each must apply as written
// (server-side dry run first, then for real) and come back with the defaults the docs promise.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { VirtualMachineProtection } from '../../../controller/api/index.js';
import {
  apply,
  connect,
  kubectl,
  parseYaml,
  repoRoot,
  useNamespace,
  type Manifest,
} from '../../support/kube.js';

const examplesDir = path.join(repoRoot, 'examples');
const manifests = readdirSync(examplesDir)
  .filter((file) => file.endsWith('.yaml') && file !== 'kustomization.yaml')
  .sort();

describe('examples/', () => {
  const namespace = useNamespace('api-examples');
  /** The example's objects, moved into this suite's namespace. */
  const load = (file: string): Manifest[] =>
    parseYaml(readFileSync(path.join(examplesDir, file), 'utf8')).map((doc) => ({
      ...doc,
      metadata: { ...doc.metadata, namespace: namespace.name },
    }));

  for (const file of manifests) {
    it(`${file} applies as a server-side dry run and for real`, async () => {
      const docs = load(file);
      await apply(docs, { dryRun: true });
      const stored = await apply(docs);
      expect(stored.map((doc) => doc.metadata?.name)).to.deep.equal(docs.map((doc) => doc.metadata?.name));
    });
  }

  it('build with kustomize for GitOps tools', async () => {
    const { exitCode, stdout, stderr } = await kubectl(['kustomize', examplesDir]);
    expect(exitCode, stderr).to.equal(0);
    expect(stdout).to.include('kind: VirtualMachineProtection');
  });

  it('get the safe defaults: saved state allowed, recovery points retained, modest concurrency', async () => {
    await apply(load('policy-sharepoint-consistency-group.yaml'));
    const policy = (await connect().custom.getNamespacedCustomObject({
      group: 'shadowkeep.io',
      version: 'v1alpha1',
      namespace: namespace.name,
      plural: 'virtualmachineprotections',
      name: 'sharepoint-farm',
    })) as VirtualMachineProtection;
    expect(policy.spec).to.deep.include({
      suspend: false,
      deletionPolicy: 'Retain',
      includeGuestProtected: false,
    });
    const sqlPolicy = load('policy-sql-online-only.yaml')[0]!;
    const [stored] = await apply(
      {
        ...sqlPolicy,
        spec: { ...(sqlPolicy.spec as object), concurrency: undefined, backupMode: undefined },
      },
      { dryRun: true },
    );
    expect(stored?.spec).to.deep.include({
      backupMode: 'OnlineOrSavedState',
      concurrency: { perHost: 2, perVolume: 1 },
    });
    expect((stored?.spec as VirtualMachineProtection['spec']).schedule.timeZone).to.equal('Europe/Berlin');
  });
});
