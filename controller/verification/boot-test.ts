/**
 * The Boot level of verification, as objects: after the controller verified a point's chunks and
 * file systems itself, a BootTest VirtualMachineRestore asks an agent to start the point as a
 * throw-away VM on an isolated switch. Its deterministic name (point + occasion) is the only memory:
 * a controller that restarts finds the test it started instead of starting another.
 */
import { createHash } from 'node:crypto';
import {
  annotations,
  labels,
  type RecoveryPoint,
  type VirtualMachineProtectionVerification,
  type VirtualMachineRestore,
} from '../api/index.js';
import type { VerificationOutcome } from './verify.js';

export function bootTestName(rp: RecoveryPoint, occasion: string): string {
  const digest = createHash('sha256')
    .update(`${rp.metadata.uid ?? rp.metadata.name}\n${occasion}`)
    .digest('hex')
    .slice(0, 10);
  const stem = rp.metadata.name.slice(0, 40).replace(/[^a-z0-9]+$/, '');
  return `${stem}-boot-${digest}`;
}

export function bootTestRestore(
  rp: RecoveryPoint,
  occasion: string,
  settings: Pick<VirtualMachineProtectionVerification, 'nodeName' | 'path' | 'bootTimeout'> | undefined,
  verifiedBefore: string,
): VirtualMachineRestore {
  return {
    apiVersion: 'shadowkeep.io/v1alpha1',
    kind: 'VirtualMachineRestore',
    metadata: {
      name: bootTestName(rp, occasion),
      namespace: rp.metadata.namespace ?? '',
      labels: {
        [labels.verification]: 'Boot',
        ...Object.fromEntries(
          [labels.vm, labels.vmId, labels.protection].flatMap((key) => {
            const value = rp.metadata.labels?.[key];
            return value === undefined ? [] : [[key, value]];
          }),
        ),
      },
      annotations: { [annotations.verifiedBeforeBoot]: verifiedBefore.slice(0, 2048) },
      // The test goes with its point; it is evidence about that point and nothing else.
      ownerReferences: [
        {
          apiVersion: 'shadowkeep.io/v1alpha1',
          kind: 'RecoveryPoint',
          name: rp.metadata.name,
          uid: rp.metadata.uid ?? '',
        },
      ],
    },
    spec: {
      recoveryPoint: rp.metadata.name,
      target: {
        type: 'BootTest',
        ...(settings?.nodeName ? { nodeName: settings.nodeName } : {}),
        ...(settings?.path ? { path: settings.path } : {}),
        ...(settings?.bootTimeout ? { bootTimeout: settings.bootTimeout } : {}),
      },
    },
  };
}

/** The verification result a finished boot test gives, or undefined while it runs. */
export function bootTestOutcome(test: VirtualMachineRestore): VerificationOutcome | undefined {
  const phase = test.status?.phase;
  if (phase !== 'Completed' && phase !== 'Failed') {
    return undefined;
  }
  const before = test.metadata.annotations?.[annotations.verifiedBeforeBoot];
  const ready = test.status?.conditions?.find((c) => c.type === 'Ready');
  const told = phase === 'Completed' ? ready?.message : (test.status?.failure?.message ?? ready?.message);
  const message = [before, told ?? `boot test ${phase}`].filter(Boolean).join('; ');
  return phase === 'Completed'
    ? {
        level: 'Boot',
        result: 'Passed',
        reason: 'Booted',
        message,
        bytesVerified: test.status?.restoredBytes ?? 0,
      }
    : {
        level: 'Boot',
        result: 'Failed',
        reason: 'BootFailed',
        message: `${message} (VirtualMachineRestore ${test.metadata.name})`,
        bytesVerified: test.status?.restoredBytes ?? 0,
      };
}
