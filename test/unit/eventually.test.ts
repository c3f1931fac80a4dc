import { expect } from 'chai';
import { eventually } from '../support/eventually.js';

describe('eventually()', () => {
  it('returns the first value the probe produces without throwing', async () => {
    let calls = 0;
    const value = await eventually(
      () => {
        calls += 1;
        if (calls < 3) {
          throw new Error(`not yet (${calls})`);
        }
        return 'ready';
      },
      { intervalMs: 1 },
    );
    expect(value).to.equal('ready');
  });

  it('reports the last observed state when the time runs out', async () => {
    const failure = await eventually(
      () => {
        throw new Error('phase is Pending');
      },
      { timeoutMs: 30, intervalMs: 5, what: 'recovery point Completed' },
    ).catch((err: unknown) => err);
    expect(failure).to.be.instanceOf(Error);
    expect((failure as Error).message).to.match(
      /recovery point Completed not met within 30 ms; last observed: phase is Pending/,
    );
  });
});
