/** The volume's structures contradict themselves (bad fixups, runs outside the volume, index loops). */
export class CorruptVolumeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CorruptVolumeError';
  }
}

/** The data is valid but this reader cannot present it (EFS-encrypted files, ReFS volumes). */
export class UnsupportedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedError';
  }
}

/** A path component that does not exist in its directory. */
export class FileNotFoundError extends Error {
  constructor(readonly path: string) {
    super(`${path}: no such file or directory`);
    this.name = 'FileNotFoundError';
  }
}
