import type { Logger } from '../common/log.js';
import { backoffDelay } from './backoff.js';

/**
 * Runs `fn` until it succeeds, waiting with jittered exponential back-off between attempts (an API
 * server that is starting answers 429 "storage is (re)initializing" for a while). Every failure is
 * logged; `signal` ends the retries.
 */
export async function untilSuccess<T>(
  fn: () => Promise<T>,
  {
    logger,
    what,
    signal,
    maxDelayMs = 30_000,
  }: { logger: Logger; what: string; signal?: AbortSignal; maxDelayMs?: number },
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (signal?.aborted) {
        throw err;
      }
      const delay = backoffDelay(attempt, { baseMs: 200, maxMs: maxDelayMs, jitter: 0.5 });
      logger.warn(`${what} failed; retrying`, { error: String(err), retryInMs: delay });
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
