/** The reliability tier needs what the integration tier does: a control plane with the CRDs installed. */
export { mochaHooks } from '../integration/hooks.js';
