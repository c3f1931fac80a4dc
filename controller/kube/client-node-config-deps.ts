// What client-node's KubeConfig module takes from the generated API (`./gen/index.js`), which is
// otherwise ~1,000 modules of clients and models: see kubeconfig.ts. tsc checks these paths exist.
export { createConfiguration } from '@kubernetes/client-node/dist/gen/configuration.js';
export { ServerConfiguration } from '@kubernetes/client-node/dist/gen/servers.js';
