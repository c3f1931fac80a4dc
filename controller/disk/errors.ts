/**
 * A virtual disk file that cannot be read as its format says: truncated, corrupt, unsupported, or
 * needing repair first. The message names the file and the problem, for the person at the terminal.
 */
export class DiskFormatError extends Error {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'DiskFormatError';
  }
}
