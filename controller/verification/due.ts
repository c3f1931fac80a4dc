/**
 * When a recovery point is to be verified, as a pure function of what the objects say and the
 * clock. Level-based and restart-safe: the only memory is each point's status.verification.time,
 * so a controller that restarts mid-verification simply verifies again.
 */
import { latestSlot, nextSlot, type Schedule } from '../policy/schedule.js';
import type { VerificationLevel } from './verify.js';

export interface VerifiablePoint {
  name: string;
  completed: boolean;
  pointInTime?: Date;
  verifiedAt?: Date;
  /** The verify-requested annotation, as written (its clock is the requester's, so it is never compared with ours). */
  request?: string;
  /** The request the newest verification answered (status.verification.request). */
  answered?: string;
  requestedLevel?: VerificationLevel;
}

export interface VerificationPolicy {
  schedule: Schedule;
  level: VerificationLevel;
}

export type VerificationDecision =
  | {
      verify: true;
      level: VerificationLevel;
      why: 'Requested' | 'Scheduled';
      /** Names this one verification (the request, or the schedule slot) so its work is found again after a restart. */
      occasion: string;
    }
  | { verify: false; wakeAt?: Date };

/**
 * `point` is due when someone asked and that request was not answered yet, or when the policy verifies on a
 * schedule, it is the VM's newest completed point of that policy (`siblings` includes it), and no
 * point of the VM was verified since the schedule's latest slot: one test restore per VM per slot.
 */
export function verificationDue(
  point: VerifiablePoint,
  siblings: readonly VerifiablePoint[],
  policy: VerificationPolicy | undefined,
  now: Date,
): VerificationDecision {
  if (!point.completed) {
    return { verify: false };
  }
  if (point.request !== undefined && point.request !== point.answered) {
    return {
      verify: true,
      level: point.requestedLevel ?? policy?.level ?? 'Checksums',
      why: 'Requested',
      occasion: `request ${point.request}`,
    };
  }
  if (!policy) {
    return { verify: false };
  }
  const newest = siblings
    .filter((p) => p.completed && p.pointInTime)
    .reduce<VerifiablePoint | undefined>(
      (best, p) => (!best || (p.pointInTime ?? 0) > (best.pointInTime ?? 0) ? p : best),
      undefined,
    );
  if (newest?.name !== point.name) {
    return { verify: false };
  }
  const next = nextSlot(policy.schedule, now);
  const slot = latestSlot(policy.schedule, now);
  const verifiedSinceSlot = siblings.some((p) => p.verifiedAt && slot && p.verifiedAt >= slot);
  if (slot && !verifiedSinceSlot) {
    return { verify: true, level: policy.level, why: 'Scheduled', occasion: `slot ${slot.toISOString()}` };
  }
  return next ? { verify: false, wakeAt: next } : { verify: false };
}
