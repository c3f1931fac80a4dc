import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { UserError } from '../../../controller/cli/command.js';
import type {
  HyperVVirtualMachine,
  RecoveryPoint,
  VirtualMachineProtection,
} from '../../../controller/api/index.js';

/** Builders for the objects the plugin reads, with only what a test needs to say. */
export function aVM(
  name: string,
  status: Partial<NonNullable<HyperVVirtualMachine['status']>> = {},
): HyperVVirtualMachine {
  const hex = createHash('sha256').update(name).digest('hex');
  const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
  return {
    apiVersion: 'shadowkeep.io/v1alpha1',
    kind: 'HyperVVirtualMachine',
    metadata: { name: id },
    spec: { id: id.toUpperCase() },
    status: { vmName: name, host: 'hv-node-1', state: 'Running', backup: { mode: 'Online' }, ...status },
  };
}

export function aPolicy(
  name: string,
  status: NonNullable<VirtualMachineProtection['status']> = {},
  namespace = 'shadowkeep-system',
): VirtualMachineProtection {
  return {
    apiVersion: 'shadowkeep.io/v1alpha1',
    kind: 'VirtualMachineProtection',
    metadata: { name, namespace },
    spec: {
      selector: { names: [] },
      schedule: { cron: '0 */4 * * *' },
      repository: 'primary',
      retention: { keepLast: 3 },
    },
    status,
  };
}

export function aPoint(
  name: string,
  vm: HyperVVirtualMachine,
  status: NonNullable<RecoveryPoint['status']> = {},
): RecoveryPoint {
  return {
    apiVersion: 'shadowkeep.io/v1alpha1',
    kind: 'RecoveryPoint',
    metadata: {
      name,
      namespace: 'shadowkeep-system',
      labels: { 'shadowkeep.io/vm': vm.status?.vmName ?? '', 'shadowkeep.io/vm-id': vm.metadata.name },
    },
    spec: { vm: { name: vm.status?.vmName ?? '' } },
    status,
  };
}

/** The message of a usage error (a UserError with exit code 2), failing the test on anything else. */
export function usageErrorMessage(err: unknown): string {
  expect(err).to.be.instanceOf(UserError);
  expect((err as UserError).exitCode).to.equal(2);
  return (err as Error).message;
}

/** The message of the usage error `fn` throws; the test fails when it throws none. */
export function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return usageErrorMessage(err);
  }
  throw new Error('expected a usage error');
}
