/**
 * The hypervisor layer's entry point for the agent: the domain types, the backup-mode decision, and
 * one way to build either backend from command-line or environment settings.
 */
import { FileHost } from './filehost/filehost.js';
import { HyperVHost } from './hyperv/hyperv.js';
import { execaRunner, recordingRunner } from './hyperv/powershell.js';
import type { Hypervisor } from './types.js';

export * from './types.js';
export { decideBackupMode, type BackupDecision, type Blocker, type UncoveredDisk } from './decision.js';

export type HypervisorSettings =
  | { backend: 'filehost'; node: string; simRoot: string }
  | {
      backend: 'hyperv';
      node: string;
      /** Folder for boot-test VMs when a restore names none. */
      testRestoreFolder?: string;
      /** `powershell.exe` (Windows PowerShell 5.1, the default) or a path to `pwsh.exe`. */
      powershell?: string;
      /** Also write every PowerShell output to this folder (to refresh the test recordings). */
      recordTo?: string;
      timeoutMs?: number;
    };

export function createHypervisor(settings: HypervisorSettings): Hypervisor {
  if (settings.backend === 'filehost') {
    return new FileHost({ root: settings.simRoot, node: settings.node });
  }
  const runner = execaRunner(settings.powershell);
  return new HyperVHost({
    node: settings.node,
    runner: settings.recordTo === undefined ? runner : recordingRunner(runner, settings.recordTo),
    ...(settings.timeoutMs === undefined ? {} : { timeoutMs: settings.timeoutMs }),
    ...(settings.testRestoreFolder === undefined ? {} : { testRestoreFolder: settings.testRestoreFolder }),
  });
}
