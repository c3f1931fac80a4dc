import { mergeConditions, type Condition } from '../runtime/conditions.js';

/** Ready=False with a reason: how a recovery point or a restore says it is waiting. */
export function notReady(
  object: { metadata: { generation?: number }; status?: { conditions?: Condition[] } },
  reason: string,
  message: string,
  now: Date,
): Condition[] {
  return mergeConditions(
    object.status?.conditions,
    [
      {
        type: 'Ready',
        status: 'False',
        reason,
        message,
        observedGeneration: object.metadata.generation ?? 1,
      },
    ],
    now,
  );
}

/**
 * The status of a recovery point that ended without data: Failed, the reason for programs and the
 * message for people, Ready=False and Stalled=True (kstatus reads it as finished and failed).
 * Whoever ends it (the agent running it, the controller timing it out) writes the same shape, and
 * a failed VirtualMachineRestore reads the same way.
 */
export function failedStatus(
  object: { metadata: { generation?: number }; status?: { conditions?: Condition[] } },
  reason: string,
  message: string,
  now: Date,
): {
  phase: 'Failed';
  completionTime: string;
  failure: { reason: string; message: string };
  conditions: Condition[];
} {
  const observedGeneration = object.metadata.generation ?? 1;
  return {
    phase: 'Failed',
    completionTime: now.toISOString(),
    failure: { reason, message },
    conditions: mergeConditions(
      object.status?.conditions,
      [
        { type: 'Ready', status: 'False', reason, message, observedGeneration },
        { type: 'Stalled', status: 'True', reason, message, observedGeneration },
      ],
      now,
    ),
  };
}
