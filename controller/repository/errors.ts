/** Repository problems worth a clear message: each names the object or setting at fault. */
export class RepositoryError extends Error {
  override name = 'RepositoryError';
}

/** The key file does not unlock this repository. */
export class WrongKeyError extends RepositoryError {
  override name = 'WrongKeyError';
}

/** The repository was written by a newer Shadowkeep, or is not a repository at all. */
export class UnsupportedFormatError extends RepositoryError {
  override name = 'UnsupportedFormatError';
}

/** An object failed authentication or its content does not match its id: damaged or tampered with. */
export class IntegrityError extends RepositoryError {
  override name = 'IntegrityError';
}
