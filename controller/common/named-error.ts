/**
 * An error whose `name` is its class's, so a family of errors (storage, repository) declares each
 * kind in one line and messages, logs and conditions still say which kind it was.
 */
export class NamedError extends Error {
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}
