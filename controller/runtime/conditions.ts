import { isDeepStrictEqual } from 'node:util';

import type { Condition } from '../api/types.generated.js';

export type { Condition };

export type ConditionInput = Omit<Condition, 'lastTransitionTime'>;

/**
 * Merges freshly computed conditions into the previous ones: lastTransitionTime moves only when a
 * condition's status flips, so `kubectl describe` shows how long something has been wrong.
 */
export function mergeConditions(
  previous: readonly Condition[] | undefined,
  next: readonly ConditionInput[],
  now: Date,
): Condition[] {
  return next.map((cond) => {
    const before = previous?.find((p) => p.type === cond.type);
    const lastTransitionTime = before?.status === cond.status ? before.lastTransitionTime : now.toISOString();
    return { ...cond, lastTransitionTime };
  });
}

export const findCondition = (
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined => conditions?.find((c) => c.type === type);

/** True when writing `next` would change nothing (no write at all when nothing changed). */
export function sameStatus(current: unknown, next: unknown): boolean {
  return isDeepStrictEqual(JSON.parse(JSON.stringify(current ?? {})), JSON.parse(JSON.stringify(next ?? {})));
}
