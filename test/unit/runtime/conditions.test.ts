import { expect } from 'chai';
import { mergeConditions, sameStatus, type ConditionInput } from '../../../controller/runtime/conditions.js';

describe('status conditions', () => {
  const t0 = new Date('2026-11-21T00:00:00Z');
  const t1 = new Date('2026-11-21T01:00:00Z');

  /** The condition once `before` was reported at t0 and `after` at t1. */
  const reported = (before: ConditionInput, after: ConditionInput) =>
    mergeConditions(mergeConditions(undefined, [before], t0), [after], t1)[0]!;

  it('keeps lastTransitionTime while the status stays the same, even when the message changes', () => {
    const fresh = { type: 'RPOMet', status: 'True', reason: 'Fresh' } as const;
    const rpo = reported(
      { ...fresh, message: 'newest point 1h old' },
      { ...fresh, message: 'newest point 2h old' },
    );
    expect(rpo.lastTransitionTime).to.equal(t0.toISOString());
    expect(rpo.message).to.equal('newest point 2h old');
  });

  it('moves lastTransitionTime when the status flips', () => {
    const ready = reported(
      { type: 'Ready', status: 'True', reason: 'Protecting', message: '' },
      { type: 'Ready', status: 'False', reason: 'RepositoryNotFound', message: 'x' },
    );
    expect(ready.lastTransitionTime).to.equal(t1.toISOString());
  });

  it('sees an unchanged status as unchanged, regardless of undefined fields', () => {
    expect(sameStatus({ a: 1, b: undefined }, { a: 1 })).to.be.true;
    expect(sameStatus({ a: 1 }, { a: 2 })).to.be.false;
  });
});
