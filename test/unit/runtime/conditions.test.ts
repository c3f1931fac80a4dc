import { expect } from 'chai';
import { mergeConditions, sameStatus } from '../../../controller/runtime/conditions.js';

describe('status conditions', () => {
  const t0 = new Date('2026-11-21T00:00:00Z');
  const t1 = new Date('2026-11-21T01:00:00Z');

  it('keeps lastTransitionTime while the status stays the same, even when the message changes', () => {
    const first = mergeConditions(
      undefined,
      [{ type: 'RPOMet', status: 'True', reason: 'Fresh', message: 'newest point 1h old' }],
      t0,
    );
    const second = mergeConditions(
      first,
      [{ type: 'RPOMet', status: 'True', reason: 'Fresh', message: 'newest point 2h old' }],
      t1,
    );
    expect(second[0]!.lastTransitionTime).to.equal(t0.toISOString());
    expect(second[0]!.message).to.equal('newest point 2h old');
  });

  it('moves lastTransitionTime when the status flips', () => {
    const first = mergeConditions(
      undefined,
      [{ type: 'Ready', status: 'True', reason: 'Protecting', message: '' }],
      t0,
    );
    const second = mergeConditions(
      first,
      [{ type: 'Ready', status: 'False', reason: 'RepositoryNotFound', message: 'x' }],
      t1,
    );
    expect(second[0]!.lastTransitionTime).to.equal(t1.toISOString());
  });

  it('sees an unchanged status as unchanged, regardless of undefined fields', () => {
    expect(sameStatus({ a: 1, b: undefined }, { a: 1 })).to.be.true;
    expect(sameStatus({ a: 1 }, { a: 2 })).to.be.false;
  });
});
