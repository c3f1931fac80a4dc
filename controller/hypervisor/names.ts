import { HypervisorError } from './types.js';

/** Control characters, which no name or path a person typed contains. */
// eslint-disable-next-line no-control-regex -- matching them is the point
export const controlCharacters = /[\u0000-\u001f\u007f]/;

/** VM names are free text shown to people; only control characters and absurd lengths are refused. */
export function checkVmName(name: string): string {
  if (name.trim() === '' || name.length > 100 || controlCharacters.test(name)) {
    throw new HypervisorError('InvalidState', `${JSON.stringify(name)} is not a usable VM name`);
  }
  return name;
}
