import { labels, vmIdOf, type VirtualMachineRestore } from '../api/index.js';
import type { EventRecorder } from '../kube/events.js';
import type { Clock } from '../runtime/clock.js';
import type { Reconciler } from '../runtime/controller.js';
import type { ReconcileResult } from '../runtime/workqueue.js';
import type { Clients, Informers } from '../manager/world.js';
import { agentAlive, agentTimeoutMs } from '../recoverypoint/placement.js';
import { failedStatus, notReady } from '../recoverypoint/status.js';
import { restoreLeftovers } from './leftovers.js';

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
    if (!restore || restore.status?.phase === 'Completed' || restore.status?.phase === 'Failed') {
      return undefined;
    }
    const namespace = restore.metadata.namespace ?? '';
    const now = clock.now();
    const assignedTo = restore.metadata.labels?.[labels.node];
    if (assignedTo) {
      return this.watchAgent(restore, assignedTo, now);
    }
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

  /**
   * A restore handed to an agent that stops reporting would wait forever: once the agent is gone
   * for agentTimeoutMs it fails, saying what may be left on that host.
   */
  private async watchAgent(
    restore: VirtualMachineRestore,
    node: string,
    now: Date,
  ): Promise<ReconcileResult> {
    const heartbeatTime = this.deps.informers.hosts.get(node)?.status?.heartbeatTime;
    const heartbeat = heartbeatTime ? new Date(heartbeatTime) : undefined;
    if (agentAlive(heartbeat ? { heartbeat, unschedulable: false } : undefined, now)) {
      return { requeueAfterMs: agentTimeoutMs };
    }
    const silent = heartbeat ? `has not reported since ${heartbeat.toISOString()}` : 'has never reported';
    const message = `the agent on ${node} ${silent}, so this restore cannot go on; ${restoreLeftovers(restore)}; once the agent is back, create the restore again`;
    await this.deps.clients.restores.applyStatus(
      restore.metadata.name,
      restore.metadata.namespace,
      failedStatus(restore, 'AgentLost', message, now),
      fieldManager,
    );
    await this.deps.events.record(restore, 'Warning', 'AgentLost', message);
    return undefined;
  }
}
