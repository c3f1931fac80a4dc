import { HypervisorError } from './types.js';

/** VM names are free text shown to people; only control characters and absurd lengths are refused. */
export function checkVmName(name: string): string {
  // eslint-disable-next-line no-control-regex
  if (name.trim() === '' || name.length > 100 || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new HypervisorError('InvalidState', `${JSON.stringify(name)} is not a usable VM name`);
  }
  return name;
}
