/**
 * When a chaos run has converged: every point of the slots before `quietSlot` has ended and its
 * offsite copy is done, and every VM has a Completed, copied point of a slot at or after it.
 */
import type { RecoveryPoint } from '../../../../controller/api/index.js';
import type { PointObserver } from './observer.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export const inFlight = (rp: RecoveryPoint): boolean =>
  !['Completed', 'Failed'].includes(rp.status?.phase ?? 'Pending');

/** A Completed point's copy to the `offsite` repository has completed (other points need none). */
export const copyDone = (rp: RecoveryPoint): boolean =>
  rp.status?.phase !== 'Completed' ||
  (rp.status.copies ?? []).some((c) => c.repository === 'offsite' && c.phase === 'Completed');

const slotOf = (rp: RecoveryPoint): number => Date.parse(rp.spec.scheduledTime ?? '');

export function converged(
  points: readonly RecoveryPoint[],
  vmNames: readonly string[],
  quietSlot: number,
): boolean {
  const earlierSettled = points
    .filter((rp) => slotOf(rp) < quietSlot)
    .every((rp) => !inFlight(rp) && copyDone(rp));
  const everyVmCaughtUp = vmNames.every((vm) =>
    points.some(
      (rp) =>
        rp.spec.vm.name === vm && slotOf(rp) >= quietSlot && rp.status?.phase === 'Completed' && copyDone(rp),
    ),
  );
  return earlierSettled && everyVmCaughtUp;
}

/**
 * Polls until converged; returns the moment it was, or 0 after `timeoutMs`, with what was still
 * under way (for the assertion's message).
 */
export async function waitUntilConverged(
  observer: PointObserver,
  vmNames: readonly string[],
  quietSlot: number,
  timeoutMs: number,
): Promise<{ at: number; unsettled: string[] }> {
  const deadline = Date.now() + timeoutMs;
  let points: RecoveryPoint[] = [];
  while (Date.now() < deadline) {
    points = await observer.poll();
    if (converged(points, vmNames, quietSlot)) {
      return { at: Date.now(), unsettled: [] };
    }
    await sleep(1000);
  }
  return {
    at: 0,
    unsettled: points
      .filter((rp) => inFlight(rp) || !copyDone(rp))
      .map((rp) => `${rp.metadata.name}: ${rp.status?.phase ?? 'Pending'}`),
  };
}

/** Polls until no point is under way and every copy is done (the policy suspended beforehand). */
export async function waitUntilSettled(observer: PointObserver): Promise<RecoveryPoint[]> {
  for (;;) {
    const points = await observer.poll();
    if (points.every((rp) => !inFlight(rp) && copyDone(rp))) {
      return points;
    }
    await sleep(1000);
  }
}

/** Each VM's first Completed point of a slot at or after `quietSlot` (undefined when it has none). */
export function firstQuietPoints(
  points: readonly RecoveryPoint[],
  vmNames: readonly string[],
  quietSlot: number,
): (RecoveryPoint | undefined)[] {
  return vmNames.map(
    (vm) =>
      points
        .filter((rp) => rp.spec.vm.name === vm && slotOf(rp) >= quietSlot && rp.status?.phase === 'Completed')
        .sort((a, b) => slotOf(a) - slotOf(b))[0],
  );
}
