import { registerHooks } from 'node:module';

/**
 * client-node's KubeConfig (kubeconfig files, in-cluster accounts and every credential plugin),
 * loaded without the package's generated API clients and models. Its config module imports them
 * only for `makeApiClient`, which Shadowkeep does not use (kube/rest.ts speaks REST itself), yet
 * loading them costs every controller and agent process ~40 MiB of RSS and 15 MiB of heap
 * (docs/performance.md, "Controller at scale"). The hook hands that one import the two names the
 * module really takes from it; everything else in client-node loads as published.
 */
const configModule = '/@kubernetes/client-node/dist/config.js';
const subset = new URL('./client-node-config-deps.js', import.meta.url).href;
registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier === './gen/index.js' && context.parentURL?.endsWith(configModule)) {
      return { url: subset, shortCircuit: true };
    }
    return nextResolve(specifier, context);
  },
});

// Imported dynamically: a static import would be resolved, with the whole module graph, before
// the hook above is registered.
const config = await import('@kubernetes/client-node/dist/config.js');
const http = await import('@kubernetes/client-node/dist/gen/http/http.js');

export const KubeConfig = config.KubeConfig;
export type KubeConfig = InstanceType<typeof KubeConfig>;
export const RequestContext = http.RequestContext;
export type RequestContext = InstanceType<typeof RequestContext>;
export const HttpMethod = http.HttpMethod;
export type HttpMethod = (typeof HttpMethod)[keyof typeof HttpMethod];
