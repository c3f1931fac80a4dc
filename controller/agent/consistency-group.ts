import { labels, type Condition, type RecoveryPoint } from '../api/index.js';
import type { ResourceClient } from '../kube/client.js';

export const groupConditionType = 'ConsistencyGroup';

export interface GroupOutcome {
  members: string[];
  /** Members that had not reached the barrier when the wait ended. */
  missing: string[];
}

const arrived = (rp: RecoveryPoint): boolean =>
  rp.status?.phase === 'Completed' ||
  rp.status?.phase === 'Failed' ||
  (rp.status?.conditions ?? []).some((c) => c.type === groupConditionType);

/**
 * The barrier of a consistency group: every member announces it is ready to snapshot (a
 * condition on its own status), then waits until every member has, so all VMs of the group are
 * snapshotted within a moment of each other. Members that do not arrive in time are named, and the
 * others go ahead rather than lose their backup.
 */
export async function awaitGroup(
  points: ResourceClient<RecoveryPoint>,
  rp: RecoveryPoint,
  announce: (condition: Condition) => Promise<void>,
  { timeoutMs = 120_000, pollMs = 250, now = (): Date => new Date() } = {},
): Promise<GroupOutcome> {
  const group = rp.spec.consistencyGroup ?? '';
  await announce({
    type: groupConditionType,
    status: 'Unknown',
    reason: 'WaitingForGroup',
    message: `ready to snapshot; waiting for the other members of consistency group ${group}`,
    lastTransitionTime: now().toISOString(),
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { items } = await points.list(rp.metadata.namespace, {
      labelSelector: `${labels.consistencyGroup}=${group}`,
    });
    const members = items.map((p) => p.metadata.name).sort();
    const missing = items
      .filter((p) => p.metadata.name !== rp.metadata.name && !arrived(p))
      .map((p) => p.metadata.name);
    if (missing.length === 0 || Date.now() >= deadline) {
      return { members, missing: missing.sort() };
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** The condition a member records after its snapshot: whether the whole group made it together. */
export function groupCondition(group: string, outcome: GroupOutcome, now: Date): Condition {
  return outcome.missing.length === 0
    ? {
        type: groupConditionType,
        status: 'True',
        reason: 'SnapshotTogether',
        message: `snapshotted together with every member of consistency group ${group}: ${outcome.members.join(', ')}`,
        lastTransitionTime: now.toISOString(),
      }
    : {
        type: groupConditionType,
        status: 'False',
        reason: 'MembersMissing',
        message: `not consistent with ${outcome.missing.join(', ')}, which did not reach the snapshot in time; the rest of consistency group ${group} went ahead`,
        lastTransitionTime: now.toISOString(),
      };
}
