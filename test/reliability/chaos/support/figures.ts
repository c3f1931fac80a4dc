/**
 * The chaos run's figures, computed from what was observed of each recovery point over the run
 * (points that failed may be deleted by retention before the end, so the run keeps its own record).
 */

export interface ObservedPoint {
  name: string;
  vm: string;
  /** The schedule slot (spec.scheduledTime, ISO); on-demand points have none and are not counted. */
  slot: string;
  /** Every phase seen, in order of first sight. */
  phases: string[];
  /** The last phase seen. */
  phase: string;
  /** status.failure.reason of a Failed point, as last seen. */
  failureReason?: string;
}

export interface RunFigures {
  /** (VM, slot) pairs the policy scheduled. */
  scheduledSlots: number;
  completed: number;
  failed: number;
  /** Failed points followed by a Completed one for the same VM in the same slot or the next. */
  failedThenRetried: number;
  /** (VM, slot) pairs with more than one Completed point: two backups of one scheduled moment. */
  duplicates: number;
  /** (VM, slot) pairs without any Completed point. */
  slotsWithoutPoint: number;
  /** How many Failed points gave each reason. */
  failureReasons: Record<string, number>;
}

const key = (vm: string, slot: string): string => `${vm}\u0000${slot}`;

export function computeFigures(points: readonly ObservedPoint[]): RunFigures {
  const slots = [...new Set(points.map((p) => p.slot))].sort();
  const nextSlot = new Map(slots.map((s, i) => [s, slots[i + 1]]));
  const completedBySlot = new Map<string, number>();
  for (const p of points.filter((p) => p.phase === 'Completed')) {
    completedBySlot.set(key(p.vm, p.slot), (completedBySlot.get(key(p.vm, p.slot)) ?? 0) + 1);
  }
  const pairs = new Set(points.map((p) => key(p.vm, p.slot)));
  const failed = points.filter((p) => p.phases.includes('Failed'));
  const failureReasons: Record<string, number> = {};
  for (const p of failed) {
    const reason = p.failureReason ?? 'unknown';
    failureReasons[reason] = (failureReasons[reason] ?? 0) + 1;
  }
  const retried = failed.filter((p) => {
    const next = nextSlot.get(p.slot);
    return (
      (completedBySlot.get(key(p.vm, p.slot)) ?? 0) > 0 ||
      (next !== undefined && (completedBySlot.get(key(p.vm, next)) ?? 0) > 0)
    );
  });
  return {
    scheduledSlots: pairs.size,
    completed: points.filter((p) => p.phase === 'Completed').length,
    failed: failed.length,
    failedThenRetried: retried.length,
    duplicates: [...completedBySlot.values()].filter((n) => n > 1).length,
    slotsWithoutPoint: [...pairs].filter((pair) => !completedBySlot.has(pair)).length,
    failureReasons,
  };
}

/** Rows of a two-column table, as the run prints it. */
export function formatTable(rows: readonly [string, string | number][]): string {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`).join('\n');
}
