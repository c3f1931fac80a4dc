/**
 * Condition types and reasons of the shadowkeep.io API. `Ready` is on every kind (so
 * `kubectl wait --for=condition=Ready` works everywhere); `Reconciling` and `Stalled` follow kstatus
 * for kinds whose work takes time or can get stuck. Reasons are CamelCase codes for programs and
 * metrics; the condition's message is where people read what to do.
 */
export const conditionTypes = {
  Ready: 'Ready',
  Reconciling: 'Reconciling',
  Stalled: 'Stalled',
  /** VirtualMachineProtection: every VM has a good recovery point younger than its RPO. */
  RPOMet: 'RPOMet',
  /** VirtualMachineProtection: every completed recovery point has reached every offsite repository. */
  OffsiteInSync: 'OffsiteInSync',
  /**
   * VirtualMachineProtection: the newest scheduled test restore of every VM passed. RecoveryPoint:
   * the newest verification of this point passed.
   */
  Verified: 'Verified',
} as const;

export type ConditionType = (typeof conditionTypes)[keyof typeof conditionTypes];

/** The condition types each kind reports, in the order `kubectl describe` should show them. */
export const conditionTypesByKind = {
  VirtualMachineProtection: ['Ready', 'Reconciling', 'Stalled', 'RPOMet', 'OffsiteInSync', 'Verified'],
  RecoveryPoint: ['Ready', 'Reconciling', 'Stalled', 'Verified'],
  BackupRepository: ['Ready'],
  VirtualMachineRestore: ['Ready', 'Reconciling', 'Stalled'],
  HyperVHost: ['Ready'],
  HyperVVirtualMachine: ['Ready'],
} as const satisfies Record<string, readonly ConditionType[]>;

/** Reasons shared by several kinds and named in the CRDs' own descriptions. */
export const reasons = {
  /** Ready=True: the object is what its spec asks for. */
  Succeeded: 'Succeeded',
  /** Reconciling=True: work is under way (a backup, a restore, a first check). */
  InProgress: 'InProgress',
  /** Ready=False, Stalled=True: the work failed; the message says why and what to do. */
  Failed: 'Failed',
  /** The spec's cron expression passed the schema but not the schedule parser. */
  InvalidSchedule: 'InvalidSchedule',
  /** A referenced BackupRepository does not exist in the namespace. */
  RepositoryNotFound: 'RepositoryNotFound',
  /** A referenced BackupRepository exists but its storage cannot be reached. */
  RepositoryUnavailable: 'RepositoryUnavailable',
  /** A referenced RecoveryPoint does not exist in the namespace. */
  RecoveryPointNotFound: 'RecoveryPointNotFound',
  /** A policy selected a VM its namespace may not protect (annotation shadowkeep.io/allowed-namespaces). */
  NamespaceNotAllowed: 'NamespaceNotAllowed',
  /** The selector matches no VM in the inventory. */
  NoVMsSelected: 'NoVMsSelected',
  /** Another policy already protects the VM; it is not backed up twice. */
  ProtectedByAnotherPolicy: 'ProtectedByAnotherPolicy',
  /** A guest-level tool protects the VM (annotation shadowkeep.io/guest-protected-by). */
  GuestProtected: 'GuestProtected',
  /** The host agent stopped reporting (HyperVHost status.heartbeatTime is old). */
  AgentNotReporting: 'AgentNotReporting',
  /** The policy's spec.suspend is true. */
  Suspended: 'Suspended',
} as const;

export type Reason = (typeof reasons)[keyof typeof reasons];
