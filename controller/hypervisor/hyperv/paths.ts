/**
 * Windows paths as Hyper-V reports them: which volume a file is on (CSV, SMB share or a local
 * drive), and validation of paths a request hands to PowerShell. Comparisons are case-insensitive,
 * as NTFS and SMB are.
 */
import { controlCharacters } from '../names.js';
import { HypervisorError, type StorageKind } from '../types.js';

export interface WindowsVolume {
  kind: Extract<StorageKind, 'Local' | 'CSV' | 'SMB'>;
  /** `C:\`, `C:\ClusterStorage\Volume1` or `\\server\share`. */
  root: string;
}

/** Drops the `\\?\` and `\\?\UNC\` long-path prefixes, which name the same file. */
function plain(path: string): string {
  if (/^\\\\\?\\UNC\\/i.test(path)) {
    return `\\\\${path.slice(8)}`;
  }
  return path.replace(/^\\\\\?\\/, '');
}

export function volumeOf(path: string, sharedVolumes: readonly string[]): WindowsVolume {
  const p = plain(path);
  const unc = /^\\\\([^\\]+)\\([^\\]+)/.exec(p);
  if (unc) {
    return { kind: 'SMB', root: `\\\\${unc[1] ?? ''}\\${unc[2] ?? ''}` };
  }
  const lower = p.toLowerCase();
  // The longest match wins, so Volume10 is not taken for Volume1; a match must end at a separator.
  const csv = [...sharedVolumes]
    .sort((a, b) => b.length - a.length)
    .find((v) => {
      const root = v.replace(/\\+$/, '').toLowerCase();
      return lower === root || lower.startsWith(`${root}\\`);
    });
  if (csv !== undefined) {
    return { kind: 'CSV', root: csv.replace(/\\+$/, '') };
  }
  const drive = /^([A-Za-z]):/.exec(p);
  return { kind: 'Local', root: drive?.[1] ? `${drive[1].toUpperCase()}:\\` : '' };
}

const absolute = /^(?:[A-Za-z]:\\|\\\\[^\\/:*?"<>|]+\\[^\\/:*?"<>|]+)/;

/**
 * A path from a request (restore target, storage destination). It reaches PowerShell as data, but a
 * relative path or one that climbs with `..` is still refused: it would land somewhere unintended.
 */
export function checkWindowsPath(path: string, what: string): string {
  if (
    !absolute.test(path) ||
    controlCharacters.test(path) ||
    path.split('\\').includes('..') ||
    path.length > 32_000
  ) {
    throw new HypervisorError(
      'InvalidState',
      `${what} ${JSON.stringify(path)} is not an absolute Windows path`,
    );
  }
  return path;
}

const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function checkGuid(id: string, what: string): string {
  if (!guid.test(id)) {
    throw new HypervisorError('NotFound', `${what} ${JSON.stringify(id)} is not a GUID`);
  }
  return id.toLowerCase();
}

/** Disk identifiers arrive as `{GUID}`, `GUID`, upper or lower case; one spelling for pairing. */
export function normalizeDiskId(id: string): string {
  return id.replace(/[{}]/g, '').toUpperCase();
}
