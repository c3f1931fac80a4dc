/**
 * The shadowkeep.io/v1alpha1 API as TypeScript: the generated kinds (from crds/, see
 * types.generated.ts), their condition types and reasons, label and annotation keys, and the small
 * helpers every reconciler and agent needs to read and write these objects the same way.
 */
import type {
  BackupRepositorySpec,
  HyperVVirtualMachineBackup,
  RecoveryPointStatus,
  VirtualMachineProtectionSpec,
  VirtualMachineRestoreStatus,
  VirtualMachineRestoreTarget,
  VirtualMachineProtectionVerification,
  RecoveryPointCopy,
} from './types.generated.js';

export * from './types.generated.js';
export * from './conditions.js';
export * from './labels.js';
export * from './quantities.js';
export * from './inventory.js';

// Names for the enums the schema defines inline, so code can say what it means.
/** Online, OnlineOrSavedState or SavedState: what a policy or recovery point asks for. */
export type BackupMode = NonNullable<VirtualMachineProtectionSpec['backupMode']>;
/** Online, SavedState or Unprotectable: what a VM allows now. */
export type VMBackupMode = HyperVVirtualMachineBackup['mode'];
export type Consistency = NonNullable<RecoveryPointStatus['consistency']>;
export type RecoveryPointPhase = NonNullable<RecoveryPointStatus['phase']>;
export type CopyPhase = RecoveryPointCopy['phase'];
export type VerificationLevel = NonNullable<VirtualMachineProtectionVerification['level']>;
export type RepositoryType = BackupRepositorySpec['type'];
export type RestoreTargetType = VirtualMachineRestoreTarget['type'];
export type RestorePhase = NonNullable<VirtualMachineRestoreStatus['phase']>;
