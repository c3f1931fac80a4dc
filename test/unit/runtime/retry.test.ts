import { expect } from 'chai';
import winston from 'winston';
import { untilSuccess } from '../../../controller/runtime/retry.js';

const silent = winston.createLogger({ silent: true });

describe('retrying start-up calls', () => {
  it('keeps trying while the API server answers that its storage is initializing', async () => {
    let calls = 0;
    const result = await untilSuccess(
      () => {
        calls += 1;
        return calls < 3
          ? Promise.reject(new Error('429 storage is (re)initializing'))
          : Promise.resolve('listed');
      },
      { logger: silent, what: 'listing', maxDelayMs: 5 },
    );
    expect(result).to.equal('listed');
    expect(calls).to.equal(3);
  });

  it('stops once asked to', async () => {
    const stop = new AbortController();
    stop.abort();
    const failure = await untilSuccess(() => Promise.reject(new Error('down')), {
      logger: silent,
      what: 'x',
      signal: stop.signal,
    }).catch((err: unknown) => err);
    expect((failure as Error).message).to.equal('down');
  });
});
