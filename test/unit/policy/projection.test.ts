import { expect } from 'chai';
import { projectVM, steadyStateKept } from '../../../controller/policy/projection.js';

const from = new Date('2026-11-22T00:00:00Z');
const MiB = 1024 * 1024;

describe('storage projection from measured change rates', () => {
  it('counts the points a grandfather-father-son retention keeps once it is full', () => {
    // Nightly: 14 daily points, plus 8 weekly and 12 monthly that reach further back.
    const nightly = steadyStateKept(
      { cron: '0 2 * * *' },
      { keepDaily: 14, keepWeekly: 8, keepMonthly: 12 },
      from,
    );
    // 14 days, then one per week for the older weeks of 8, then one per month for the older months.
    expect(nightly.kept).to.be.within(14 + 6 + 9, 14 + 8 + 12);
    expect(nightly.lowerBound).to.be.false;
    expect(steadyStateKept({ cron: '0 */4 * * *' }, { keepWithin: '3d' }, from).kept).to.be.within(18, 19);
    expect(steadyStateKept({ cron: '0 * * * *' }, { keepLast: 5 }, from).kept).to.equal(5);
  });

  it('says when the simulation stopped short: an hourly schedule kept for ten years', () => {
    expect(steadyStateKept({ cron: '0 * * * *' }, { keepYearly: 10, keepHourly: 24 }, from).lowerBound).to.be
      .true;
  });

  it('projects one full copy plus the measured mean change per kept point, next to the 3x rule', () => {
    const projection = projectVM(
      { fullBytes: 40 * MiB, protectedBytes: 100 * MiB, incrementalBytes: [1 * MiB, 3 * MiB] },
      { kept: 11, lowerBound: false },
    );
    expect(projection).to.deep.equal({
      changePerPoint: 2 * MiB,
      projectedBytes: 60 * MiB,
      ruleOfThumbBytes: 300 * MiB,
    });
  });

  it('projects nothing before the first incremental has measured a change rate', () => {
    expect(
      projectVM(
        { fullBytes: 40 * MiB, protectedBytes: 100 * MiB, incrementalBytes: [] },
        { kept: 11, lowerBound: false },
      ),
    ).to.deep.equal({
      ruleOfThumbBytes: 300 * MiB,
    });
  });
});
