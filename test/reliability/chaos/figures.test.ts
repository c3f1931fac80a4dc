/**
 * The chaos run's bookkeeping, checked on its own: a wrong count here would let the run report
 * goals met that were not.
 */
import { expect } from 'chai';
import type { RecoveryPoint } from '../../../controller/api/index.js';
import { converged } from './support/convergence.js';
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

describe('chaos convergence', () => {
  const quietSlot = Date.parse('2026-11-22T09:05:00Z');
  type Status = NonNullable<RecoveryPoint['status']>;
  type CopyPhase = NonNullable<Status['copies']>[number]['phase'];
  const rp = (vm: string, slot: string, phase: Status['phase'], copy?: CopyPhase): RecoveryPoint => ({
    apiVersion: 'shadowkeep.io/v1alpha1',
    kind: 'RecoveryPoint',
    metadata: { name: `${vm}-${slot}` },
    spec: { vm: { name: vm }, scheduledTime: `2026-11-22T09:${slot}:00Z` },
    status: {
      phase,
      ...(copy ? { copies: [{ repository: 'offsite', phase: copy }] } : {}),
    },
  });

  it('waits for every earlier point to end and be copied, and for each VM to complete a quiet slot', () => {
    const settled = [
      rp('a', '04', 'Failed'),
      rp('a', '05', 'Completed', 'Completed'),
      rp('b', '05', 'Completed', 'Completed'),
    ];
    expect(converged(settled, ['a', 'b'], quietSlot)).to.be.true;
    expect(converged([...settled, rp('b', '04', 'Transferring')], ['a', 'b'], quietSlot)).to.be.false;
    expect(converged([...settled, rp('b', '03', 'Completed', 'Copying')], ['a', 'b'], quietSlot)).to.be.false;
    expect(converged(settled.slice(0, 2), ['a', 'b'], quietSlot), 'b has no quiet point').to.be.false;
  });
});
