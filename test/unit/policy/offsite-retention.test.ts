import { expect } from 'chai';
import { planOffsiteRetention, type OffsitePoint } from '../../../controller/policy/offsite-retention.js';

const now = new Date('2026-11-22T00:00:00Z');
const point = (
  name: string,
  day: number,
  copy?: OffsitePoint['copy'],
  lockedUntil?: string,
): OffsitePoint => ({
  name,
  time: new Date(Date.UTC(2026, 10, day)),
  state: 'Completed',
  ...(copy ? { copy } : {}),
  ...(lockedUntil ? { lockedUntil: new Date(lockedUntil) } : {}),
});

describe('offsite retention', () => {
  it('applies the target own rules to the points copied there, independent of the primary', () => {
    const decision = planOffsiteRetention(
      [point('a', 1, 'Completed'), point('b', 2, 'Completed'), point('c', 3, 'Completed')],
      { keepLast: 2 },
      now,
    );
    expect([...decision.keep].sort()).to.deep.equal(['b', 'c']);
    expect(decision.expire).to.deep.equal(['a']);
  });

  it('never expires a copy still under its immutability lock', () => {
    const decision = planOffsiteRetention(
      [point('a', 1, 'Completed', '2026-12-01T00:00:00Z'), point('b', 2, 'Completed')],
      { keepLast: 1 },
      now,
    );
    expect(decision.expire).to.deep.equal([]);
  });

  it('lists completed points not copied yet, and not those already expired there', () => {
    const decision = planOffsiteRetention(
      [point('a', 1, 'Expired'), point('b', 2, 'Failed'), point('c', 3), point('d', 4, 'Completed')],
      { keepLast: 5 },
      now,
    );
    expect(decision.awaitingCopy).to.deep.equal(['b', 'c']);
    expect([...decision.keep]).to.deep.equal(['d']);
  });
});
