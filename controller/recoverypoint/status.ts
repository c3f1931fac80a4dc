import type { RecoveryPoint, RecoveryPointStatus } from '../api/index.js';
import { mergeConditions } from '../runtime/conditions.js';

/** Ready=False with a reason: how a recovery point says it is waiting, or why it failed. */
export function notReady(
  rp: RecoveryPoint,
  reason: string,
  message: string,
  now: Date,
): RecoveryPointStatus['conditions'] {
  return mergeConditions(
    rp.status?.conditions,
    [{ type: 'Ready', status: 'False', reason, message, observedGeneration: rp.metadata.generation ?? 1 }],
    now,
  );
}

/**
 * The status of a recovery point that ended without data: Failed, the reason for programs and the
 * message for people, Ready=False and Stalled=True (kstatus reads it as finished and failed).
 * Whoever ends it (the agent running it, the controller timing it out) writes the same shape.
 */
export function failedStatus(
  rp: RecoveryPoint,
  reason: string,
  message: string,
  now: Date,
): RecoveryPointStatus {
  const observedGeneration = rp.metadata.generation ?? 1;
  return {
    phase: 'Failed',
    completionTime: now.toISOString(),
    failure: { reason, message },
    conditions: mergeConditions(
      rp.status?.conditions,
      [
        { type: 'Ready', status: 'False', reason, message, observedGeneration },
        { type: 'Stalled', status: 'True', reason, message, observedGeneration },
      ],
      now,
    ),
  };
}
