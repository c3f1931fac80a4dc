/**
 * Turning a PowerShell error into a `HypervisorError` the agent can act on, with the known causes
 * from the reference's pitfalls table (§6) named in the message, so a failed recovery point tells
 * the operator what to look at.
 */
import { HypervisorError, type HypervisorErrorCode } from '../types.js';
import type { JsonObject } from './decode.js';

interface KnownFailure {
  match: RegExp;
  code: HypervisorErrorCode;
  transient: boolean;
  hint: string;
}

const known: KnownFailure[] = [
  {
    match: /0x800423F2|VSS writer.*tim/i,
    code: 'GuestNotConsistent',
    transient: true,
    hint: 'a VSS writer timed out, often because backup jobs overlap; check `vssadmin list writers` in the guest and on the host, and stagger jobs',
  },
  {
    match: /0x800423F3/i,
    code: 'GuestNotConsistent',
    transient: true,
    hint: 'VSS reported a transient error; retrying usually works (KB 2462424)',
  },
  {
    match:
      /Production checkpoints? (could|cannot) not be created|could not create (a )?production checkpoint/i,
    code: 'GuestNotConsistent',
    transient: false,
    hint: 'the guest could not take part (Backup integration service, vmicvss or hv_vss_daemon not running)',
  },
  {
    match: /0x80070050|file exists/i,
    code: 'SnapshotFailed',
    transient: false,
    hint: 'a leftover AutoRecovery.avhdx blocks new checkpoints; remove the stale recovery checkpoint',
  },
  {
    match: /0x8007052F|0x80070569/i,
    code: 'HostError',
    transient: false,
    hint: "a group policy removed 'Log on as a service' from NT VIRTUAL MACHINE\\Virtual Machines (KB 2779204)",
  },
  {
    match: /0x80070020|being used by another process/i,
    code: 'Busy',
    transient: true,
    hint: 'the disk is in use (a merge or another backup); the backup is retried later',
  },
  {
    match: /Checkpoints have been disabled/i,
    code: 'Unsupported',
    transient: false,
    hint: 'enable checkpoints for this VM (Set-VM -CheckpointType Production)',
  },
  {
    match: /recovery checkpoint.*32768|error code[: ]+32768|Could not create backup checkpoint/i,
    code: 'SnapshotFailed',
    transient: true,
    hint: 'the host VSS writer failed (events 8229/12293); check `vssadmin list writers`',
  },
  {
    match: /Unable to cast object of type 'System\.String' to type/i,
    code: 'HostError',
    transient: false,
    hint: 'PowerShell 7 loaded Hyper-V through implicit remoting; run the agent with Windows PowerShell 5.1',
  },
  {
    match: /unable to find a virtual machine|ObjectNotFound/i,
    code: 'NotFound',
    transient: false,
    hint: 'the VM is not on this host (moved or deleted)',
  },
  {
    match: /Access is denied|0x80070005/i,
    code: 'HostError',
    transient: false,
    hint: 'the agent must run as NT AUTHORITY\\SYSTEM (HostProcess runAsUserName)',
  },
];

const ownCode = /^shadowkeep:([A-Za-z]+):([\s\S]*)$/;
const codes: readonly HypervisorErrorCode[] = [
  'NotFound',
  'NotOwner',
  'InvalidState',
  'Busy',
  'GuestNotConsistent',
  'SnapshotFailed',
  'ChangeTrackingLost',
  'Timeout',
  'Unsupported',
  'HostError',
];

export function classifyFailure(operation: string, error: JsonObject): HypervisorError {
  const message = typeof error.message === 'string' ? error.message.trim() : 'unknown error';
  const own = ownCode.exec(message);
  if (own?.[1] && (codes as readonly string[]).includes(own[1])) {
    return new HypervisorError(own[1] as HypervisorErrorCode, own[2] ?? '', own[1] === 'Busy');
  }
  const text = `${message} ${typeof error.errorId === 'string' ? error.errorId : ''} ${typeof error.hresult === 'number' ? hex(error.hresult) : ''}`;
  const found = known.find((k) => k.match.test(text));
  if (!found) {
    return new HypervisorError('HostError', `${operation}: ${message}`);
  }
  return new HypervisorError(found.code, `${operation}: ${message} (${found.hint})`, found.transient);
}

/** HRESULTs arrive as signed 32-bit numbers; people search for them as 0x8007... */
function hex(hresult: number): string {
  return `0x${(hresult >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}
