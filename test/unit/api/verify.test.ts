// `make verify` (hack/verify.sh) must catch generated files that drifted from crds/, whether by a
// hand edit or a CRD change nobody regenerated, and CRD fields `kubectl explain` could not explain.
import { cp, mkdtemp, readFile, rm, writeFile, appendFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { execa } from 'execa';
import { repoRoot } from '../../support/kube.js';

const generatedTypes = 'controller/api/types.generated.ts';
const chartCrd = 'charts/shadowkeep/templates/crds/shadowkeep.io_recoverypoints.yaml';

describe('make verify', function () {
  // Each run starts Node with the generator and Prettier: about half a second.
  this.timeout(30_000);
  let tree = '';

  /** Runs hack/verify.sh (or generate.sh) on the copy of the tree. */
  const run = (script: 'verify' | 'generate') =>
    execa(path.join(repoRoot, `hack/${script}.sh`), ['--root', tree], { reject: false });

  beforeEach(async () => {
    tree = await mkdtemp(path.join(os.tmpdir(), 'shadowkeep-verify-'));
    for (const dir of ['crds', 'controller/api', 'charts/shadowkeep/templates/crds']) {
      await cp(path.join(repoRoot, dir), path.join(tree, dir), { recursive: true });
    }
  });
  afterEach(async () => {
    await rm(tree, { recursive: true, force: true });
  });

  it('passes on the committed tree', async () => {
    const { exitCode, stderr } = await run('verify');
    expect(exitCode, stderr).to.equal(0);
  });

  it('fails on a hand edit to the generated types, naming the file', async () => {
    const file = path.join(tree, generatedTypes);
    await writeFile(file, (await readFile(file, 'utf8')).replace("'Completed'", "'Done'"));
    const { exitCode, stderr } = await run('verify');
    expect(exitCode).to.equal(1);
    expect(stderr).to.include(generatedTypes).and.include('run make generate');
  });

  it("fails on a hand edit to the chart's CRD copy", async () => {
    await appendFile(path.join(tree, chartCrd), '# tweaked by hand\n');
    const { exitCode, stderr } = await run('verify');
    expect(exitCode).to.equal(1);
    expect(stderr).to.include(chartCrd);
  });

  it('fails when a CRD changed and nobody regenerated, and passes once make generate ran', async () => {
    const crd = path.join(tree, 'crds/shadowkeep.io_hypervhosts.yaml');
    await writeFile(crd, (await readFile(crd, 'utf8')).replace('maxConcurrentJobs:', 'maxParallelJobs:'));
    const before = await run('verify');
    expect(before.exitCode).to.equal(1);
    expect(before.stderr)
      .to.include(generatedTypes)
      .and.include('charts/shadowkeep/templates/crds/shadowkeep.io_hypervhosts.yaml');

    expect((await run('generate')).exitCode).to.equal(0);
    expect((await run('verify')).exitCode).to.equal(0);
    expect(await readFile(path.join(tree, generatedTypes), 'utf8')).to.include('maxParallelJobs?: number;');
  });

  it('fails on a chart CRD template whose CRD is gone', async () => {
    await writeFile(
      path.join(tree, 'charts/shadowkeep/templates/crds/shadowkeep.io_oldthings.yaml'),
      'kind: CustomResourceDefinition\n',
    );
    const { exitCode, stderr } = await run('verify');
    expect(exitCode).to.equal(1);
    expect(stderr).to.include('shadowkeep.io_oldthings.yaml');
  });

  /** Rewrites one line of the HyperVHost CRD in the copied tree. */
  async function editHostCrd(from: string, to: string): Promise<void> {
    const crd = path.join(tree, 'crds/shadowkeep.io_hypervhosts.yaml');
    const text = await readFile(crd, 'utf8');
    expect(text).to.include(from);
    await writeFile(crd, text.replace(from, to));
  }

  it('fails on a CRD field without a description, naming its path', async () => {
    await editHostCrd(
      "hostName: {type: string, description: The host's Windows computer name., maxLength: 253}",
      'hostName: {type: string, maxLength: 253}',
    );
    const { exitCode, stderr } = await run('verify');
    expect(exitCode).to.equal(1);
    expect(stderr).to.include('HyperVHost.status.hostName: no description');
  });

  it('fails on a description an unquoted comma split into a stray key', async () => {
    await editHostCrd(
      "description: 'The cluster resource name, e.g. Cluster Disk 1.'",
      'description: The cluster resource name, e.g. Cluster Disk 1.',
    );
    const { exitCode, stderr } = await run('verify');
    expect(exitCode).to.equal(1);
    expect(stderr).to.include(
      "HyperVHost.status.clusterSharedVolumes[].name: unknown schema key 'e.g. Cluster Disk 1.'",
    );
  });

  it('fails on a kind that leaves out what every kind offers', async () => {
    await editHostCrd('categories: [shadowkeep]', 'categories: [infrastructure]');
    const { exitCode, stderr } = await run('verify');
    expect(exitCode).to.equal(1);
    expect(stderr).to.include('HyperVHost lacks the category shadowkeep');
  });
});
