/**
 * Storage projection from measured change rates, replacing DPM's "3x the protected data" rule of
 * thumb: how many recovery points a policy keeps once retention is in steady state (its schedule
 * run forward and its retention applied), times what each point really added to the repository.
 * Pure functions; the plugin feeds them the recovery points' own figures.
 */
import { parseDuration } from '../common/duration.js';
import { planRetention, type RetentionRules } from './retention.js';
import { parseSchedule, slotInterval, type Schedule } from './schedule.js';

/** More simulated points than this and the count is a lower bound (an hourly schedule kept for years). */
const maxSimulatedPoints = 5000;
const day = 86_400_000;

/** How far back the retention rules reach, for a schedule with slots `intervalMs` apart. */
function retentionSpanMs(rules: RetentionRules, intervalMs: number): number {
  return Math.max(
    rules.keepWithin ? parseDuration(rules.keepWithin) : 0,
    (rules.keepLast ?? 0) * intervalMs,
    (rules.keepHourly ?? 0) * 3_600_000,
    (rules.keepDaily ?? 0) * day,
    (rules.keepWeekly ?? 0) * 7 * day,
    (rules.keepMonthly ?? 0) * 31 * day,
    (rules.keepYearly ?? 0) * 366 * day,
  );
}

export interface SteadyState {
  /** Recovery points of one VM kept once the schedule has run longer than retention reaches. */
  kept: number;
  /** True when the simulation stopped at its limit: at least this many are kept. */
  lowerBound: boolean;
}

/** Runs the schedule forward from `from` past the retention span and counts what retention keeps. */
export function steadyStateKept(schedule: Schedule, rules: RetentionRules, from: Date): SteadyState {
  const interval = slotInterval(schedule, from) ?? day;
  const span = retentionSpanMs(rules, interval) + interval;
  const end = from.getTime() + span;
  const times = parseSchedule(schedule)
    .nextRuns(maxSimulatedPoints, from)
    .filter((t) => t.getTime() <= end);
  const last = times.at(-1);
  if (!last) {
    return { kept: 0, lowerBound: false };
  }
  const decision = planRetention(
    times.map((time, i) => ({ name: String(i), time, state: 'Completed' as const })),
    rules,
    last,
    schedule.timeZone ?? 'UTC',
  );
  return { kept: decision.keep.size, lowerBound: times.length === maxSimulatedPoints };
}

/** What one VM's recovery points measured. */
export interface MeasuredPoints {
  /** Stored bytes of the newest full backup (what the first point uploaded). */
  fullBytes?: number;
  /** Data the disks hold (allocated bytes of the newest point): what the rule of thumb multiplies. */
  protectedBytes: number;
  /** Uploaded bytes of each incremental point. */
  incrementalBytes: number[];
}

export interface VMProjection {
  /** Mean uploaded bytes per incremental point, or undefined before the first incremental. */
  changePerPoint?: number;
  /** Full copy plus (kept - 1) incrementals; undefined until both are measured. */
  projectedBytes?: number;
  ruleOfThumbBytes: number;
}

export function projectVM(measured: MeasuredPoints, steady: SteadyState): VMProjection {
  const ruleOfThumbBytes = 3 * measured.protectedBytes;
  const n = measured.incrementalBytes.length;
  if (n === 0 || measured.fullBytes === undefined) {
    return { ruleOfThumbBytes };
  }
  const changePerPoint = measured.incrementalBytes.reduce((a, b) => a + b, 0) / n;
  return {
    changePerPoint,
    projectedBytes: Math.round(measured.fullBytes + Math.max(0, steady.kept - 1) * changePerPoint),
    ruleOfThumbBytes,
  };
}
