/**
 * Mocha root hook plugin for every tier: a test that failed and then passed on its one retry is
 * written to $SHADOWKEEP_FLAKY_LOG, and hack/run-tests.sh lists it before the summary. A retry
 * keeps one slow moment on a shared CI machine from failing the run; the list keeps it from
 * hiding a test that needs fixing.
 */
import { appendFileSync } from 'node:fs';
import type { Context, Test } from 'mocha';

export const mochaHooks = {
  afterEach(this: Context): void {
    // Mocha's typings mark currentRetry() protected; it is the documented way to read the attempt.
    const test = this.currentTest as (Test & { currentRetry(): number }) | undefined;
    const log = process.env.SHADOWKEEP_FLAKY_LOG;
    if (log && test?.state === 'passed' && test.currentRetry() > 0) {
      appendFileSync(log, `${test.fullTitle()}\n`);
    }
  },
};
