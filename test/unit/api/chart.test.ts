// The Helm chart installs the same CRDs as crds/, only when asked, and never deletes them: deleting
// a CRD on `helm uninstall` would delete every recovery point with it.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { execa } from 'execa';
import { parseYaml, repoRoot, toolsEnv, type Manifest } from '../../support/kube.js';

const render = async (...set: string[]): Promise<Manifest[]> => {
  const { stdout } = await execa(
    'helm',
    [
      'template',
      'shadowkeep',
      path.join(repoRoot, 'charts/shadowkeep'),
      ...set.flatMap((value) => ['--set', value]),
    ],
    {
      env: toolsEnv,
    },
  );
  return parseYaml(stdout).filter((doc) => doc.kind === 'CustomResourceDefinition');
};

describe('the Helm chart', function () {
  this.timeout(20_000);

  it('installs every CRD of crds/ unchanged, kept on uninstall', async () => {
    const sources = await Promise.all(
      (await readdir(path.join(repoRoot, 'crds'))).map(
        async (file) => parseYaml(await readFile(path.join(repoRoot, 'crds', file), 'utf8'))[0]!,
      ),
    );
    const rendered = await render();
    expect(rendered.map((crd) => crd.metadata?.name)).to.have.members(
      sources.map((crd) => crd.metadata?.name),
    );
    for (const crd of rendered) {
      const source = sources.find((candidate) => candidate.metadata?.name === crd.metadata?.name)!;
      expect(crd.spec, `${crd.metadata?.name ?? ''} spec`).to.deep.equal(source.spec);
      expect(crd.metadata?.annotations).to.deep.equal({ 'helm.sh/resource-policy': 'keep' });
    }
  });

  it('leaves the CRDs out when crds.enabled is false (managed elsewhere, e.g. by GitOps)', async () => {
    expect(await render('crds.enabled=false')).to.deep.equal([]);
  });
});
