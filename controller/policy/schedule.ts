import { Cron } from 'croner';

export interface Schedule {
  cron: string;
  /** IANA time zone the cron expression is read in; UTC when absent. */
  timeZone?: string;
}

/**
 * Reads a five-field cron expression in its time zone (as CronJob does). Daylight-saving changes
 * follow croner's rules: a slot in a skipped hour runs once when the clock jumps, a slot in a
 * repeated hour runs once. Throws an Error whose message says how to fix the expression.
 */
export function parseSchedule(schedule: Schedule): Cron {
  try {
    // croner accepts unknown zones until it computes a run; Intl refuses them up front.
    new Intl.DateTimeFormat('en-US', { timeZone: schedule.timeZone ?? 'UTC' });
    return new Cron(schedule.cron, { timezone: schedule.timeZone ?? 'UTC', mode: '5-part', paused: true });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(
      `schedule '${schedule.cron}'${schedule.timeZone ? ` in ${schedule.timeZone}` : ''} is not valid (${why}); ` +
        "write five fields 'minute hour day-of-month month day-of-week', e.g. '0 */4 * * *', and an IANA time zone such as Europe/Berlin",
      { cause: err },
    );
  }
}

/** The newest slot at or before `now` (the one a recovery point is due for), if any. */
export function latestSlot(schedule: Schedule, now: Date): Date | undefined {
  return parseSchedule(schedule).previousRuns(1, new Date(now.getTime() + 1))[0];
}

/** The first slot after `now`. */
export function nextSlot(schedule: Schedule, now: Date): Date | undefined {
  return parseSchedule(schedule).nextRun(now) ?? undefined;
}

/** The gap between the two slots around `now`: how old the newest good point may be before RPO is missed. */
export function slotInterval(schedule: Schedule, now: Date): number | undefined {
  const before = latestSlot(schedule, now);
  const after = nextSlot(schedule, now);
  return before && after ? after.getTime() - before.getTime() : undefined;
}
