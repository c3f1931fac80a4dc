import { expect } from 'chai';
import { planRetention, type RetainedPoint } from '../../../controller/policy/retention.js';

const day = 86_400_000;
const now = new Date('2026-11-21T12:00:00Z');

/** One completed point a day at 02:00 UTC, going back `days` days, named by date. */
function nightly(days: number): RetainedPoint[] {
  return Array.from({ length: days }, (_, i) => {
    const time = new Date(Date.UTC(2026, 10, 21 - i, 2));
    return { name: `sql01-${time.toISOString().slice(0, 10)}`, time, state: 'Completed' as const };
  });
}

const kept = (
  points: RetainedPoint[],
  ...args: Parameters<typeof planRetention> extends [unknown, ...infer R] ? R : never
) => [...planRetention(points, ...args).keep.keys()].sort();

describe('retention', () => {
  it('keeps every point within keepWithin and deletes the older ones', () => {
    const decision = planRetention(nightly(30), { keepWithin: '14d' }, now);
    expect(decision.keep.size).to.equal(14);
    expect(decision.delete).to.have.length(16);
    expect(decision.delete).to.include('sql01-2026-11-07');
  });

  it('keeps one point per day, ISO week and month in grandfather-father-son style', () => {
    const points = nightly(120);
    const names = kept(points, { keepDaily: 7, keepWeekly: 4, keepMonthly: 3 }, now);
    const days = [
      '2026-11-15',
      '2026-11-16',
      '2026-11-17',
      '2026-11-18',
      '2026-11-19',
      '2026-11-20',
      '2026-11-21',
    ];
    // Weeks (Monday to Sunday): the newest of Nov 16-22, 9-15, 2-8 and Oct 26-Nov 1.
    const weeks = ['2026-11-21', '2026-11-15', '2026-11-08', '2026-11-01'];
    // Months: the newest of November, October and September.
    const months = ['2026-11-21', '2026-10-31', '2026-09-30'];
    const expected = [...new Set([...days, ...weeks, ...months])].map((d) => `sql01-${d}`).sort();
    expect(names).to.deep.equal(expected);
  });

  it('buckets days in the policy time zone, not UTC', () => {
    // 23:30 UTC on Nov 20 is already Nov 21 in Berlin: one day there, two in UTC.
    const points: RetainedPoint[] = [
      { name: 'late', time: new Date('2026-11-20T23:30:00Z'), state: 'Completed' },
      { name: 'early', time: new Date('2026-11-21T01:00:00Z'), state: 'Completed' },
      { name: 'before', time: new Date('2026-11-19T10:00:00Z'), state: 'Completed' },
    ];
    expect(kept(points, { keepDaily: 2 }, now, 'UTC')).to.deep.equal(['early', 'late']);
    expect(kept(points, { keepDaily: 2 }, now, 'Europe/Berlin')).to.deep.equal(['before', 'early']);
  });

  it('never deletes the newest completed point, however strict the rules', () => {
    const old = nightly(40).slice(30);
    const decision = planRetention(old, { keepWithin: '1d' }, now);
    expect([...decision.keep.keys()]).to.deep.equal([old[0]!.name]);
    expect(decision.keep.get(old[0]!.name)).to.include('newest completed recovery point');
  });

  it('keeps points in use by a restore, under an immutability lock, or still in progress', () => {
    const points: RetainedPoint[] = [
      ...nightly(3),
      {
        name: 'restoring',
        time: new Date('2026-10-01T02:00:00Z'),
        state: 'Completed',
        inUseBy: 'VirtualMachineRestore/sql01-restore',
      },
      {
        name: 'locked',
        time: new Date('2026-10-02T02:00:00Z'),
        state: 'Completed',
        lockedUntil: new Date('2026-12-01T00:00:00Z'),
      },
      {
        name: 'unlocked',
        time: new Date('2026-10-03T02:00:00Z'),
        state: 'Completed',
        lockedUntil: new Date('2026-11-01T00:00:00Z'),
      },
      { name: 'running', time: new Date('2026-11-21T11:00:00Z'), state: 'InProgress' },
    ];
    const decision = planRetention(points, { keepLast: 1 }, now);
    expect(decision.keep.get('restoring')).to.deep.equal(['in use by VirtualMachineRestore/sql01-restore']);
    expect(decision.keep.get('locked')?.[0]).to.match(/^immutable until 2026-12-01/);
    expect(decision.keep.get('running')).to.deep.equal(['in progress']);
    expect(decision.delete).to.include('unlocked');
  });

  it('keeps only the three most recent failures', () => {
    const failures: RetainedPoint[] = Array.from({ length: 5 }, (_, i) => ({
      name: `failed-${i}`,
      time: new Date(now.getTime() - (i + 1) * day),
      state: 'Failed',
    }));
    const decision = planRetention([...nightly(1), ...failures], { keepLast: 10 }, now);
    expect(decision.delete).to.deep.equal(['failed-3', 'failed-4']);
  });
});
