/**
 * What a restore that stopped half-way may have left on its host, in words people can act on. Used
 * by the agent after a restart and by the controller when an agent stops reporting; pure, so both
 * say the same thing.
 */
import { join } from 'node:path';
import type { VirtualMachineRestore } from '../api/index.js';

/**
 * Where one boot test's VM lives and how its name ends, both named after its restore so they can be
 * found again after a crash. `folder` is the target's path, or the agent's test-restore folder.
 */
export function bootTestPlace(
  restore: VirtualMachineRestore,
  folder: string,
): { vmPath: string; nameSuffix: string } {
  const suffix = (restore.metadata.uid ?? restore.metadata.name).slice(0, 8);
  return { vmPath: join(folder, `boot-test-${suffix}`), nameSuffix: `(boot test ${suffix})` };
}

export function restoreLeftovers(restore: VirtualMachineRestore): string {
  const { target } = restore.spec;
  switch (target.type) {
    case 'OriginalLocation':
      return `staged disk files ending in .restoring-${restore.metadata.uid ?? restore.metadata.name} may be left next to the VM's disks (delete them); if the VM no longer appears in Get-VM, restore again`;
    case 'AlternateHost':
      return `the folder ${target.newName ?? 'named after the VM'} under ${target.path ?? ''} may hold a partial copy, and a VM may be registered from it: check Get-VM, remove what is there, and restore again`;
    case 'Disks':
      return `files in ${target.path ?? ''} may be incomplete: delete them and restore again`;
    case 'Items':
      return `files in ${target.items?.destination ?? ''} may be incomplete: restore again with items.overwrite: true`;
    case 'BootTest': {
      const { vmPath, nameSuffix } = bootTestPlace(restore, target.path ?? "the agent's test-restore folder");
      return `a test VM named '... ${nameSuffix}' and its folder ${vmPath} may be left: turn it off, remove it (Remove-VM) and delete the folder`;
    }
  }
}
