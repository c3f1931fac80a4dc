/**
 * The record of a recovery point kept in the repository beside its first disk's manifest (as a
 * catalog object, so it is encrypted and travels with every offsite copy). With it, a cluster
 * that has nothing but the repository can recreate the RecoveryPoint object, status included.
 */
import type { RecoveryPoint, RecoveryPointStatus } from '../api/index.js';
import { RepositoryError } from '../repository/errors.js';

export const recoveryPointRecordCatalog = 'recovery-point';
const RECORD_VERSION = 1;

export interface RecoveryPointRecord {
  version: number;
  name: string;
  labels: Record<string, string>;
  spec: RecoveryPoint['spec'];
  status: Omit<RecoveryPointStatus, 'conditions' | 'copies' | 'verification' | 'progress'>;
}

export function encodeRecord(rp: RecoveryPoint, status: RecoveryPointStatus): Buffer {
  // What happens to the point later (copies, verification) or only while it runs is not its record.
  const transient = new Set(['conditions', 'copies', 'verification', 'progress']);
  const kept = Object.fromEntries(
    Object.entries(status).filter(([k]) => !transient.has(k)),
  ) as RecoveryPointRecord['status'];
  const record: RecoveryPointRecord = {
    version: RECORD_VERSION,
    name: rp.metadata.name,
    labels: Object.fromEntries(
      Object.entries(rp.metadata.labels ?? {}).filter(([k]) => k.startsWith('shadowkeep.io/')),
    ),
    spec: rp.spec,
    status: kept,
  };
  return Buffer.from(JSON.stringify(record));
}

export function decodeRecord(data: Buffer, what: string): RecoveryPointRecord {
  const record = JSON.parse(data.toString('utf8')) as Partial<RecoveryPointRecord>;
  if (
    record.version !== RECORD_VERSION ||
    typeof record.name !== 'string' ||
    !record.spec ||
    !record.status
  ) {
    throw new RepositoryError(`${what} is not a recovery point record this Shadowkeep can read`);
  }
  return record as RecoveryPointRecord;
}
