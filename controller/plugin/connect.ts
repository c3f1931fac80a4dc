import { UserError } from '../cli/command.js';
import { KubeRest } from '../kube/rest.js';
import { loadKubeConfig } from '../manager/manager.js';
import { clientsFor, type Clients } from '../manager/world.js';

/** Clients for the cluster KUBECONFIG (or ~/.kube/config, or in-cluster credentials) names, like kubectl. */
export function connectPlugin(): { rest: KubeRest; clients: Clients } {
  let rest: KubeRest;
  try {
    rest = new KubeRest(loadKubeConfig());
  } catch (err) {
    throw new UserError(`cannot read the kubeconfig: ${(err as Error).message}; set KUBECONFIG`);
  }
  return { rest, clients: clientsFor(rest) };
}

/** One object for one result, a kubectl-style List for several. */
export function asListOrItem(items: readonly unknown[], single: boolean): unknown {
  return single ? items[0] : { apiVersion: 'v1', kind: 'List', items };
}
