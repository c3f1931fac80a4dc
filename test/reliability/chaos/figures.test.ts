/**
 * The chaos run's bookkeeping, checked on its own: a wrong count here would let the run report
 * goals met that were not.
 */
import { expect } from 'chai';
import { planFaults } from './support/fault-plan.js';
import { computeFigures, type ObservedPoint } from './support/figures.js';

const point = (name: string, vm: string, slot: string, ...phases: string[]): ObservedPoint => ({
  name,
  vm,
  slot,
  phases,
  phase: phases.at(-1) ?? 'Pending',
  ...(phases.includes('Failed') ? { failureReason: 'AgentRestarted' } : {}),
});

describe('chaos figures', () => {
  it('counts a second Completed point of one VM and slot as a duplicate', () => {
    const figures = computeFigures([
      point('a-0900', 'a', '09:00', 'Pending', 'Completed'),
      point('a-0900-r1', 'a', '09:00', 'Pending', 'Completed'),
      point('b-0900', 'b', '09:00', 'Completed'),
    ]);
    expect(figures).to.include({ scheduledSlots: 2, completed: 3, duplicates: 1, slotsWithoutPoint: 0 });
  });

  it('counts a failure as retried only when the same or the next slot of that VM completed', () => {
    const figures = computeFigures([
      point('a-0900', 'a', '09:00', 'Transferring', 'Failed'),
      point('a-0901', 'a', '09:01', 'Completed'),
      point('b-0900', 'b', '09:00', 'Failed'),
      point('b-0901', 'b', '09:01', 'Failed'),
      point('b-0902', 'b', '09:02', 'Completed'),
    ]);
    expect(figures).to.include({ failed: 3, failedThenRetried: 2, slotsWithoutPoint: 3, duplicates: 0 });
    expect(figures.failureReasons).to.deep.equal({ AgentRestarted: 3 });
  });
});

describe('chaos fault plan', () => {
  const options = {
    seed: 42,
    windowMs: 100_000,
    extraKills: 1,
    agents: 3,
    controllers: 2,
    minDownMs: 2_000,
    maxDownMs: 15_000,
  };

  it('is the same plan for the same seed and a different one for another', () => {
    expect(planFaults(options)).to.deep.equal(planFaults(options));
    expect(planFaults({ ...options, seed: 43 })).not.to.deep.equal(planFaults(options));
  });

  it('kills each kind at least once, restarts the API server once, all inside the window in order', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const plan = planFaults({ ...options, seed });
      const count = (kind: string): number => plan.filter((f) => f.kind === kind).length;
      expect([count('kill-agent'), count('kill-leader'), count('kill-controller')]).to.deep.equal([2, 2, 2]);
      expect(count('restart-apiserver')).to.equal(1);
      expect(plan.map((f) => f.atMs)).to.deep.equal([...plan.map((f) => f.atMs)].sort((a, b) => a - b));
      expect(plan.every((f) => f.atMs >= 0 && f.atMs < options.windowMs)).to.be.true;
      expect(plan.every((f) => f.kind === 'restart-apiserver' || (f.downMs >= 2_000 && f.downMs <= 15_000)))
        .to.be.true;
    }
  });
});
