/** Restores as the integration tests make and await them, and what they check of a restored disk. */
import { expect } from 'chai';
import type { VirtualMachineRestore } from '../../controller/api/index.js';
import { openVirtualDisk } from '../../controller/disk/index.js';
import { eventually } from './eventually.js';
import type { Environment } from './shadowkeep-env.js';

const MiB = 1024 * 1024;

/**
 * Creates a VirtualMachineRestore (in the environment's namespace unless told another) and waits
 * until it is Completed or Failed; returns it as it ended, for the test to judge.
 */
export async function restoreAndAwait(
  env: Environment,
  restore: { name: string; namespace?: string } & VirtualMachineRestore['spec'],
  timeoutMs = 60_000,
): Promise<VirtualMachineRestore> {
  const { name, namespace = env.namespace, ...spec } = restore;
  await env.clients.restores.create({
    apiVersion: 'shadowkeep.io/v1alpha1',
    kind: 'VirtualMachineRestore',
    metadata: { name, namespace },
    spec,
  });
  return eventually(
    async () => {
      const r = await env.clients.restores.get(name, namespace);
      const phase = r?.status?.phase;
      if (phase !== 'Completed' && phase !== 'Failed') {
        throw new Error(`${name} is ${phase ?? 'new'}`);
      }
      return r!;
    },
    { timeoutMs, what: `restore ${name} to finish` },
  );
}

/** Asserts a restore Completed, saying why it failed where it did not. */
export function expectCompleted(restore: VirtualMachineRestore): void {
  expect(restore.status?.phase, JSON.stringify(restore.status?.failure)).to.equal('Completed');
}

/** Asserts a restored disk is a VHDX holding, byte for byte, what the live disk holds. */
export async function expectSameDisk(restoredPath: string, livePath: string): Promise<void> {
  const restored = await openVirtualDisk(restoredPath);
  const live = await openVirtualDisk(livePath);
  try {
    expect(restored.format).to.equal('vhdx');
    expect(restored.size).to.equal(live.size);
    for (let offset = 0; offset < live.size; offset += 4 * MiB) {
      const length = Math.min(4 * MiB, live.size - offset);
      expect(
        (await restored.read(offset, length)).equals(await live.read(offset, length)),
        `bytes at ${offset}`,
      ).to.equal(true);
    }
  } finally {
    await restored.close();
    await live.close();
  }
}
