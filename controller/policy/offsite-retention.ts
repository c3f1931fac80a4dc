import { planRetention, type RetainedPoint, type RetentionRules } from './retention.js';

export type CopyPhase = 'Pending' | 'Copying' | 'Completed' | 'Failed' | 'Expired';

/** A recovery point of one VM, with the state of its copy to the offsite target in question. */
export interface OffsitePoint extends RetainedPoint {
  copy?: CopyPhase;
}

export interface OffsiteDecision {
  /** Points whose copy the target's own rules keep. */
  keep: Set<string>;
  /** Points whose copy in the target has expired: their data there goes. */
  expire: string[];
  /** Completed points not copied yet: they must live on until the copy is made. */
  awaitingCopy: string[];
}

/**
 * Offsite retention of one target, independent of the primary's: the target's rules applied to
 * the points copied there (locks and the newest copy are always kept, as in `planRetention`).
 */
export function planOffsiteRetention(
  points: readonly OffsitePoint[],
  rules: RetentionRules,
  now: Date,
  timeZone = 'UTC',
): OffsiteDecision {
  const copied = points.filter((p) => p.state === 'Completed' && p.copy === 'Completed');
  const decision = planRetention(copied, rules, now, timeZone);
  return {
    keep: new Set(decision.keep.keys()),
    expire: decision.delete,
    awaitingCopy: points
      .filter((p) => p.state === 'Completed' && p.copy !== 'Completed' && p.copy !== 'Expired')
      .map((p) => p.name),
  };
}
