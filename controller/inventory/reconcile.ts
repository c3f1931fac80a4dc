import { labels, type HyperVVirtualMachineStatus } from '../api/index.js';
import { owningPolicyOf, inventoryVM } from '../protection/inputs.js';
import { sameStatus } from '../runtime/conditions.js';
import type { Reconciler } from '../runtime/controller.js';
import type { ReconcileResult } from '../runtime/workqueue.js';
import type { Clients, Informers } from '../manager/world.js';

const fieldManager = 'shadowkeep-controller';

/**
 * Writes the controller's part of a HyperVVirtualMachine's status: which policy protects it and
 * its newest completed recovery point (the PROTECTED-BY and LAST columns). The agent owns every
 * other status field; server-side apply keeps the two writers apart.
 */
export class InventoryReconciler implements Reconciler {
  readonly name = 'inventory';

  constructor(
    private readonly deps: { clients: Clients; informers: Informers; controllerNamespace: string },
  ) {}

  async reconcile(key: string): Promise<ReconcileResult> {
    const { informers, clients, controllerNamespace } = this.deps;
    const object = informers.vms.get(key);
    if (!object) {
      return undefined;
    }
    const vm = inventoryVM(object);
    const owner = owningPolicyOf(vm, informers.protections.list(), controllerNamespace);
    const newest = informers.recoveryPoints
      .withLabel(labels.vmId, vm.id)
      .filter((rp) => rp.status?.phase === 'Completed' && !rp.metadata.deletionTimestamp)
      .reduce<
        (typeof informers.recoveryPoints.list extends () => readonly (infer T)[] ? T : never) | undefined
      >(
        (best, rp) => ((rp.status?.pointInTime ?? '') > (best?.status?.pointInTime ?? '') ? rp : best),
        undefined,
      );
    const mine: HyperVVirtualMachineStatus = {
      protectedBy: owner ? [{ namespace: owner.split('/')[0] ?? '', name: owner.split('/')[1] ?? '' }] : [],
      ...(newest
        ? {
            lastRecoveryPoint: {
              namespace: newest.metadata.namespace ?? '',
              name: newest.metadata.name,
              ...(newest.status?.pointInTime ? { time: newest.status.pointInTime } : {}),
              ...(newest.status?.consistency ? { consistency: newest.status.consistency } : {}),
            },
          }
        : {}),
    };
    const current = {
      protectedBy: object.status?.protectedBy ?? [],
      lastRecoveryPoint: object.status?.lastRecoveryPoint,
    };
    if (!sameStatus(current, mine)) {
      await clients.vms.applyStatus(object.metadata.name, undefined, mine, fieldManager);
    }
    return undefined;
  }
}
