import type { RecoveryPointStatus } from '../api/index.js';

/**
 * Writes an agent's part of a status through server-side apply. Apply removes fields a manager
 * owned but left out, so every write carries everything written so far; writes go one at a time,
 * in order, so a slow progress update can never land after (and undo) the final phase.
 */
export class StatusWriter<S extends object = RecoveryPointStatus> {
  private state: Partial<S> = {};
  private chain: Promise<unknown> = Promise.resolve();
  private hintQueued = false;

  constructor(private readonly apply: (status: Partial<S>) => Promise<unknown>) {}

  private enqueue(): Promise<unknown> {
    const next = this.chain.then(() => {
      this.hintQueued = false;
      return this.apply(this.state);
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Merges `part` into the status and writes it after any write already under way. */
  async write(part: Partial<S>): Promise<void> {
    this.state = { ...this.state, ...part };
    await this.enqueue();
  }

  /** Merges `part`; writes it unless a write is already waiting, which will carry it (progress is a hint). */
  hint(part: Partial<S>): void {
    this.state = { ...this.state, ...part };
    if (!this.hintQueued) {
      this.hintQueued = true;
      void this.enqueue();
    }
  }
}
