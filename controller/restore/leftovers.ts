/**
 * What a restore that stopped half-way may have left on its host, in words people can act on. Used
 * by the agent after a restart and by the controller when an agent stops reporting; pure, so both
 * say the same thing.
 */
import type { VirtualMachineRestore } from '../api/index.js';

/** Names a boot test's VM and folder after its restore, so both can be found again after a crash. */
export function bootTestSuffix(restore: VirtualMachineRestore): string {
  return (restore.metadata.uid ?? restore.metadata.name).slice(0, 8);
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
      const suffix = bootTestSuffix(restore);
      return `a test VM named '... (boot test ${suffix})' and its folder boot-test-${suffix} may be left in ${target.path ?? "the agent's test-restore folder"}: turn it off, remove it (Remove-VM) and delete the folder`;
    }
  }
}
