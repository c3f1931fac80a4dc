import type { VirtualMachineProtectionRetention } from '../api/types.generated.js';
import { parseDuration } from '../common/duration.js';

/** The rules as a policy's spec.retention (and each offsite copy's) states them. */
export type RetentionRules = VirtualMachineProtectionRetention;

/** What retention needs to know of one recovery point of one VM. */
export interface RetainedPoint {
  name: string;
  /** The moment the data represents. */
  time: Date;
  state: 'Completed' | 'Failed' | 'InProgress';
  /** Set when something else still needs the point: a restore, a copy, an incremental based on it. */
  inUseBy?: string;
  /** Set while an immutability lock forbids deletion. */
  lockedUntil?: Date;
}

export interface RetentionDecision {
  /** Points kept, each with the rules that keep it (for `kubectl describe` and Events). */
  keep: Map<string, string[]>;
  delete: string[];
}

type Bucket = 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly';
const bucketRules: [Bucket, keyof RetentionRules][] = [
  ['hourly', 'keepHourly'],
  ['daily', 'keepDaily'],
  ['weekly', 'keepWeekly'],
  ['monthly', 'keepMonthly'],
  ['yearly', 'keepYearly'],
];

/** Failed points kept for diagnosis, newest first; older failures are cleaned up. */
export const failedHistoryLimit = 3;

function calendarParts(time: Date, timeZone: string): { y: number; mo: number; d: number; h: number } {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    hourCycle: 'h23',
  }).formatToParts(time);
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value);
  return { y: get('year'), mo: get('month'), d: get('day'), h: get('hour') };
}

/** ISO 8601 week of a calendar date: weeks start on Monday and belong to the year of their Thursday. */
function isoWeek(y: number, mo: number, d: number): string {
  const thursday = new Date(Date.UTC(y, mo - 1, d));
  thursday.setUTCDate(thursday.getUTCDate() + 3 - ((thursday.getUTCDay() + 6) % 7));
  const weekYear = thursday.getUTCFullYear();
  const week = 1 + Math.floor((thursday.getTime() - Date.UTC(weekYear, 0, 1)) / 604_800_000);
  return `${weekYear}-W${week}`;
}

function bucketOf(bucket: Bucket, time: Date, timeZone: string): string {
  const { y, mo, d, h } = calendarParts(time, timeZone);
  switch (bucket) {
    case 'hourly':
      return `${y}-${mo}-${d}T${h}`;
    case 'daily':
      return `${y}-${mo}-${d}`;
    case 'weekly':
      return isoWeek(y, mo, d);
    case 'monthly':
      return `${y}-${mo}`;
    case 'yearly':
      return `${y}`;
  }
}

/**
 * Decides which recovery points of one VM to keep, in the grandfather-father-son style of restic's
 * `forget`: within a bucket (hour, day, ISO week, month, year in the policy's time zone) the newest
 * completed point counts. Never deleted whatever the rules say: the newest completed point, points
 * still in progress, points in use, and points under an immutability lock.
 */
export function planRetention(
  points: readonly RetainedPoint[],
  rules: RetentionRules,
  now: Date,
  timeZone = 'UTC',
): RetentionDecision {
  const keep = new Map<string, string[]>();
  const because = (name: string, reason: string): void => {
    keep.set(name, [...(keep.get(name) ?? []), reason]);
  };
  const newestFirst = [...points].sort((a, b) => b.time.getTime() - a.time.getTime());
  const completed = newestFirst.filter((p) => p.state === 'Completed');

  const newest = completed[0];
  if (newest) {
    because(newest.name, 'newest completed recovery point');
  }
  for (const p of newestFirst) {
    if (p.state === 'InProgress') {
      because(p.name, 'in progress');
    }
    if (p.inUseBy) {
      because(p.name, `in use by ${p.inUseBy}`);
    }
    if (p.lockedUntil && p.lockedUntil > now) {
      because(p.name, `immutable until ${p.lockedUntil.toISOString()}`);
    }
  }
  newestFirst
    .filter((p) => p.state === 'Failed')
    .slice(0, failedHistoryLimit)
    .forEach((p) => {
      because(p.name, 'recent failure kept for diagnosis');
    });

  if (rules.keepWithin) {
    const cutoff = now.getTime() - parseDuration(rules.keepWithin);
    completed
      .filter((p) => p.time.getTime() >= cutoff)
      .forEach((p) => {
        because(p.name, `within ${rules.keepWithin}`);
      });
  }
  completed.slice(0, rules.keepLast ?? 0).forEach((p) => {
    because(p.name, 'keepLast');
  });
  for (const [bucket, rule] of bucketRules) {
    const limit = rules[rule] as number | undefined;
    if (!limit) {
      continue;
    }
    const seen = new Set<string>();
    for (const p of completed) {
      if (seen.size >= limit) {
        break;
      }
      const id = bucketOf(bucket, p.time, timeZone);
      if (!seen.has(id)) {
        seen.add(id);
        because(p.name, `${bucket} ${id}`);
      }
    }
  }
  return { keep, delete: newestFirst.filter((p) => !keep.has(p.name)).map((p) => p.name) };
}
