/** Policies, the VMs they protect and recovery points as the integration tests make and await them. */
import type { RecoveryPoint, VirtualMachineProtection } from '../../controller/api/index.js';
import type { SimVm } from '../../controller/hypervisor/filehost/config.js';
import type { VmSpec } from '../../controller/hypervisor/filehost/sim.js';
import { eventually } from './eventually.js';
import type { Environment } from './shadowkeep-env.js';

/** An hourly policy over every VM of the environment's hosts, into the primary repository. */
export function aPolicy(
  env: Environment,
  name: string,
  spec: Partial<VirtualMachineProtection['spec']> = {},
): VirtualMachineProtection {
  return {
    apiVersion: 'shadowkeep.io/v1alpha1',
    kind: 'VirtualMachineProtection',
    metadata: { name, namespace: env.namespace, labels: { 'app.kubernetes.io/instance': 'gitops-app' } },
    spec: {
      selector: { namePatterns: ['*'], hosts: env.nodes },
      schedule: { cron: '0 * * * *' },
      repository: 'primary',
      retention: { keepLast: 5 },
      ...spec,
    },
  };
}

/** Waits until the recovery point is Completed; a failure says what it is instead. */
export async function completedPoint(env: Environment, name: string): Promise<RecoveryPoint> {
  return eventually(
    async () => {
      const rp = await env.clients.recoveryPoints.get(name, env.namespace);
      if (rp?.status?.phase !== 'Completed') {
        throw new Error(
          `${name} is ${rp?.status?.phase ?? 'missing'}: ${JSON.stringify(rp?.status?.failure ?? rp?.status?.conditions ?? {})}`,
        );
      }
      return rp;
    },
    { timeoutMs: 60_000, what: `recovery point ${name} Completed` },
  );
}

/**
 * Creates an on-demand recovery point of a VM under a policy (or straight into a repository, with
 * no policy) and waits until it is Completed.
 */
export async function backUpNow(
  env: Environment,
  name: string,
  vm: { name: string; id: string },
  under: string | { repository: string },
): Promise<RecoveryPoint> {
  await env.clients.recoveryPoints.create({
    apiVersion: 'shadowkeep.io/v1alpha1',
    kind: 'RecoveryPoint',
    metadata: { name, namespace: env.namespace },
    spec: typeof under === 'string' ? { vm, protection: under } : { vm, repository: under.repository },
  });
  return completedPoint(env, name);
}

/** A running VM on the environment's first node, its disks on Cluster Shared Volume1. */
export function aRunningVm(env: Environment, name: string, disks: VmSpec['disks']): Promise<SimVm> {
  return env.sim.createVm({
    name,
    owner: env.nodes[0]!,
    storage: env.sim.layout.csvVolume('Volume1'),
    disks,
    running: true,
  });
}
