/** A PowerShell runner that replays recorded outputs by operation and keeps every invocation it saw. */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type {
  PowerShellInvocation,
  PowerShellOutput,
  PowerShellRunner,
} from '../../../controller/hypervisor/hyperv/powershell.js';

export const fixtures = fileURLToPath(new URL('../../../../test/fixtures/powershell/', import.meta.url));

export interface Replay {
  runner: PowerShellRunner;
  invocations: PowerShellInvocation[];
  /** The arguments object a script received, decoded as the script's prelude decodes it. */
  argumentsOf(invocation: PowerShellInvocation): unknown;
}

/**
 * `recordings` maps an operation to one recording (`ps51/vms`) or a list used in order, the last
 * one repeating. An operation without a recording fails the test loudly.
 */
export function replay(recordings: Record<string, string | string[]>): Replay {
  const invocations: PowerShellInvocation[] = [];
  const used = new Map<string, number>();
  return {
    invocations,
    argumentsOf: (invocation) =>
      JSON.parse(
        Buffer.from(invocation.environment.SHADOWKEEP_ARGS ?? '', 'base64').toString('utf8'),
      ) as unknown,
    async runner(invocation): Promise<PowerShellOutput> {
      invocations.push(invocation);
      const entry = recordings[invocation.operation];
      if (entry === undefined) {
        throw new Error(`no recording for PowerShell operation ${invocation.operation}`);
      }
      const list = typeof entry === 'string' ? [entry] : entry;
      const index = used.get(invocation.operation) ?? 0;
      used.set(invocation.operation, index + 1);
      const name = list[Math.min(index, list.length - 1)] ?? '';
      const stdout = await readFile(`${fixtures}${name}.out`, 'utf8');
      const stderr = await readFile(`${fixtures}${name}.err`, 'utf8').catch(() => '');
      return { stdout, stderr, exitCode: stdout.startsWith('{"ok":true') ? 0 : 1, timedOut: false };
    },
  };
}
