import { labels, vmIdOf } from '../api/index.js';
import type { EventRecorder } from '../kube/events.js';
import type { Clock } from '../runtime/clock.js';
import type { Reconciler } from '../runtime/controller.js';
import type { ReconcileResult } from '../runtime/workqueue.js';
import type { Clients, Informers } from '../manager/world.js';
import { failedStatus, notReady } from '../recoverypoint/status.js';

const fieldManager = 'shadowkeep-controller';

/**
 * Hands a VirtualMachineRestore to the agent that will run it: the node the spec names, else the
 * node that owns the VM now (an in-place restore), else the node that took the recovery point.
 * A restore of a point that does not exist fails at once with the reason.
 */
export class RestoreReconciler implements Reconciler {
  readonly name = 'restore';

  constructor(
    private readonly deps: { clients: Clients; informers: Informers; clock: Clock; events: EventRecorder },
  ) {}

  async reconcile(key: string): Promise<ReconcileResult> {
    const { informers, clients, clock, events } = this.deps;
    const restore = informers.restores.get(key);
    if (
      !restore ||
      restore.metadata.labels?.[labels.node] ||
      restore.status?.phase === 'Completed' ||
      restore.status?.phase === 'Failed'
    ) {
      return undefined;
    }
    const namespace = restore.metadata.namespace ?? '';
    const now = clock.now();
    const rp = informers.recoveryPoints.get(`${namespace}/${restore.spec.recoveryPoint}`);
    if (rp?.status?.phase !== 'Completed') {
      const message = rp
        ? `RecoveryPoint ${restore.spec.recoveryPoint} is ${rp.status?.phase ?? 'Pending'}; only a completed point can be restored`
        : `RecoveryPoint ${restore.spec.recoveryPoint} does not exist in ${namespace}`;
      if (!rp) {
        await clients.restores.applyStatus(
          restore.metadata.name,
          namespace,
          failedStatus(restore, 'RecoveryPointNotFound', message, now),
          fieldManager,
        );
        await events.record(restore, 'Warning', 'RecoveryPointNotFound', message);
        return undefined;
      }
      await clients.restores.applyStatus(
        restore.metadata.name,
        namespace,
        { phase: 'Pending', conditions: notReady(restore, 'RecoveryPointNotReady', message, now) },
        fieldManager,
      );
      return { requeueAfterMs: 10_000 };
    }
    const vmId = vmIdOf(rp);
    const owner = vmId ? informers.vms.get(vmId)?.status?.host : undefined;
    const node = restore.spec.target.nodeName ?? owner ?? rp.status.nodeName;
    if (!node) {
      await clients.restores.applyStatus(
        restore.metadata.name,
        namespace,
        {
          phase: 'Pending',
          conditions: notReady(
            restore,
            'NoNode',
            'no node to run the restore on: set spec.target.nodeName',
            now,
          ),
        },
        fieldManager,
      );
      return { requeueAfterMs: 30_000 };
    }
    await clients.restores.mergePatch(restore.metadata.name, namespace, {
      metadata: { resourceVersion: restore.metadata.resourceVersion, labels: { [labels.node]: node } },
    });
    await clients.restores.applyStatus(
      restore.metadata.name,
      namespace,
      {
        phase: 'Pending',
        nodeName: node,
        conditions: notReady(restore, 'Scheduled', `assigned to the agent on ${node}`, now),
      },
      fieldManager,
    );
    return undefined;
  }
}
