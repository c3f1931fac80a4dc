/**
 * Label, annotation and finalizer keys of the shadowkeep.io API. Labels are how agents find their
 * work and people filter (`kubectl get rp -l shadowkeep.io/vm=sql01`); annotations carry the
 * platform team's decisions on inventory objects.
 */
export const labels = {
  /** On RecoveryPoints: the VM's name (as a label value, see `toLabelValue`). */
  vm: 'shadowkeep.io/vm',
  /** On RecoveryPoints: the VM's Hyper-V ID, lower case. */
  vmId: 'shadowkeep.io/vm-id',
  /** On RecoveryPoints: the VirtualMachineProtection that made it. */
  protection: 'shadowkeep.io/protection',
  /**
   * On RecoveryPoints, VirtualMachineRestores and HyperVVirtualMachines: the node whose agent does
   * the work or owns the VM. Set by the controller (never in an immutable spec), so the assignment
   * can follow a VM that live-migrates before its backup starts; agents watch only their own.
   */
  node: 'shadowkeep.io/node',
  /** On RecoveryPoints taken together at one coordinated point in time: the group's ID. */
  consistencyGroup: 'shadowkeep.io/consistency-group',
  /** On VirtualMachineRestores the controller makes to verify a point (value: the level, Boot). */
  verification: 'shadowkeep.io/verification',
} as const;

export const annotations = {
  /**
   * On a HyperVVirtualMachine: namespaces, comma-separated, whose policies may protect the VM
   * besides the controller's own namespace; `*` allows every namespace. Set by the platform team.
   */
  allowedNamespaces: 'shadowkeep.io/allowed-namespaces',
  /**
   * On a HyperVVirtualMachine: the guest-level tool that already protects it (e.g. `sql-native`).
   * Policies skip such VMs unless their spec.includeGuestProtected is true.
   */
  guestProtectedBy: 'shadowkeep.io/guest-protected-by',
  /**
   * On a RecoveryPoint rebuilt from a repository (BackupRepository spec.syncRecoveryPoints): the
   * repository it came from. Such a point is never placed for a new backup.
   */
  importedFrom: 'shadowkeep.io/imported-from',
  /**
   * On a RecoveryPoint: when someone asked for it to be verified now (an RFC 3339 time, written by
   * `kubectl shadowkeep verify`); the controller verifies it once unless a newer result exists.
   */
  verifyRequested: 'shadowkeep.io/verify-requested',
  /** On a RecoveryPoint, with verify-requested: the level asked for (Checksums, Filesystem or Boot). */
  verifyLevel: 'shadowkeep.io/verify-level',
  /**
   * On a boot-test VirtualMachineRestore: what the checks before it found (chunks and file systems),
   * so the recovery point's result can tell the whole story once the test VM booted.
   */
  verifiedBeforeBoot: 'shadowkeep.io/verified-before-boot',
} as const;

export const finalizers = {
  /** On RecoveryPoints: their data is removed from every repository before the object goes. */
  recoveryPointData: 'shadowkeep.io/recovery-point-data',
  /** On VirtualMachineProtections with deletionPolicy Delete: their recovery points go first. */
  protectionPoints: 'shadowkeep.io/protection-recovery-points',
} as const;

/**
 * A VM name as a label value: label values allow at most 63 characters from [A-Za-z0-9._-],
 * starting and ending alphanumeric, while Hyper-V names allow almost anything. Typical names
 * (sql01, web-02) pass unchanged; others get their invalid characters replaced by '-'.
 */
export function toLabelValue(text: string): string {
  return text
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

/**
 * The Hyper-V ID of the VM a recovery point is about: from its spec, or, for a point a person
 * created by VM name only, from the label the controller resolved from the inventory.
 */
export function vmIdOf(rp: {
  spec: { vm: { id?: string } };
  metadata: { labels?: Record<string, string> };
}): string | undefined {
  return (rp.spec.vm.id ?? rp.metadata.labels?.[labels.vmId])?.toLowerCase();
}
