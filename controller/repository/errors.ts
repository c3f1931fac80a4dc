import { NamedError } from '../common/named-error.js';

/** Repository problems worth a clear message: each names the object or setting at fault. */
export class RepositoryError extends NamedError {}

/** The key file does not unlock this repository. */
export class WrongKeyError extends RepositoryError {}

/** The repository was written by a newer Shadowkeep, or is not a repository at all. */
export class UnsupportedFormatError extends RepositoryError {}

/** An object failed authentication or its content does not match its id: damaged or tampered with. */
export class IntegrityError extends RepositoryError {}
