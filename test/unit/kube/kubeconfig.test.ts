import { expect } from 'chai';
import { execa } from 'execa';

const kubeconfigModule = new URL('../../../controller/kube/kubeconfig.js', import.meta.url).href;

// Run in a fresh process: this one has client-node's full API loaded by other tests already.
const probe = `
import { registerHooks } from 'node:module';
const generated = [];
registerHooks({
  load(url, context, nextLoad) {
    if (/\\/client-node\\/dist\\/gen\\/(apis|models|types)\\//.test(url)) generated.push(url);
    return nextLoad(url, context);
  },
});
const { KubeConfig, RequestContext, HttpMethod } = await import(${JSON.stringify(kubeconfigModule)});
const config = new KubeConfig();
config.loadFromString(JSON.stringify({
  apiVersion: 'v1', kind: 'Config', 'current-context': 'estate',
  clusters: [{ name: 'estate', cluster: { server: 'https://10.0.0.1:6443' } }],
  users: [{ name: 'controller', user: { token: 'token-of-the-controller' } }],
  contexts: [{ name: 'estate', context: { cluster: 'estate', user: 'controller' } }],
}));
const request = new RequestContext(config.getCurrentCluster().server + '/api', HttpMethod.GET);
await config.applySecurityAuthentication(request);
console.log(JSON.stringify({ authorization: request.getHeaders().Authorization, generated: generated.length }));
`;

describe('kubeconfig loading', function () {
  this.timeout(30_000);

  it('authenticates requests with client-node without loading its generated API clients and models', async () => {
    const { stdout } = await execa(process.execPath, ['--input-type=module', '-e', probe]);
    const result = JSON.parse(stdout) as { authorization: string; generated: number };
    expect(result.authorization).to.equal('Bearer token-of-the-controller');
    expect(result.generated, 'generated API modules loaded').to.equal(0);
  });
});
