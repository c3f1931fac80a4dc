import { HypervisorError } from './types.js';

/**
 * Characters no name or path a person typed contains: C0 and C1 controls, line and paragraph
 * separators, and the Unicode bidirectional overrides and isolates, which make a name display as
 * something else than it is (`\u202Eexe.txt` shows as `txt.exe`).
 */
// eslint-disable-next-line no-control-regex -- matching them is the point
export const controlCharacters = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** VM names are free text shown to people; only control characters and absurd lengths are refused. */
export function checkVmName(name: string): string {
  if (name.trim() === '' || name.length > 100 || controlCharacters.test(name)) {
    throw new HypervisorError('InvalidState', `${JSON.stringify(name)} is not a usable VM name`);
  }
  return name;
}

/** A virtual switch the agent creates itself: a plain name, so no wildcard or quoting can change which switch. */
export function checkSwitchName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$/.test(name)) {
    throw new HypervisorError(
      'InvalidState',
      `${JSON.stringify(name)} is not a usable switch name (letters, digits, space, '_', '-', '.')`,
    );
  }
  return name;
}
