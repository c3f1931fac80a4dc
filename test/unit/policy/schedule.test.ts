import { expect } from 'chai';
import { latestSlot, nextSlot, parseSchedule, slotInterval } from '../../../controller/policy/schedule.js';
import { dnsLabelFor, scheduledPointName } from '../../../controller/policy/naming.js';

describe('schedules', () => {
  it('finds the slot a recovery point is due for and the next one', () => {
    const every4h = { cron: '0 */4 * * *' };
    const now = new Date('2026-11-21T09:17:00Z');
    expect(latestSlot(every4h, now)?.toISOString()).to.equal('2026-11-21T08:00:00.000Z');
    expect(nextSlot(every4h, now)?.toISOString()).to.equal('2026-11-21T12:00:00.000Z');
    expect(slotInterval(every4h, now)).to.equal(4 * 3_600_000);
  });

  it('counts a slot that falls exactly now as due', () => {
    expect(latestSlot({ cron: '0 2 * * *' }, new Date('2026-11-21T02:00:00Z'))?.toISOString()).to.equal(
      '2026-11-21T02:00:00.000Z',
    );
  });

  it('reads the cron expression in the policy time zone across a daylight-saving change', () => {
    const nightlyBerlin = { cron: '0 1 * * *', timeZone: 'Europe/Berlin' };
    // Summer time (UTC+2) ends on 25 October 2026.
    expect(latestSlot(nightlyBerlin, new Date('2026-10-24T12:00:00Z'))?.toISOString()).to.equal(
      '2026-10-23T23:00:00.000Z',
    );
    expect(latestSlot(nightlyBerlin, new Date('2026-10-26T12:00:00Z'))?.toISOString()).to.equal(
      '2026-10-26T00:00:00.000Z',
    );
  });

  it('rejects a malformed expression with a message that says how to write one', () => {
    expect(() => parseSchedule({ cron: '0 */4 * *' })).to.throw(
      /five fields 'minute hour day-of-month month day-of-week'/,
    );
    expect(() => parseSchedule({ cron: '0 2 * * *', timeZone: 'Mars/Olympus' })).to.throw(/IANA time zone/);
  });
});

describe('recovery point names', () => {
  it('names a scheduled point after the VM and the UTC slot', () => {
    expect(scheduledPointName('sql01', new Date('2026-11-21T04:00:00Z'))).to.equal('sql01-20261121-0400');
    expect(scheduledPointName('sql01', new Date('2026-11-21T04:00:00Z'), 2)).to.equal(
      'sql01-20261121-0400-r2',
    );
  });

  it('makes Hyper-V names that are not DNS labels into distinct valid ones', () => {
    const a = dnsLabelFor('SQL 01 (prod)');
    const b = dnsLabelFor('sql_01_prod');
    expect(a).to.match(/^sql-01-prod-[0-9a-f]{6}$/);
    expect(b).to.match(/^sql-01-prod-[0-9a-f]{6}$/);
    expect(a).not.to.equal(b);
    expect(dnsLabelFor('Ünïcødé')).to.match(/^n-c-d-[0-9a-f]{6}$/);
    expect(dnsLabelFor('数据库')).to.match(/^vm-[0-9a-f]{6}$/);
  });

  it('keeps names of very long VM names within 63 characters', () => {
    const name = scheduledPointName('a'.repeat(200), new Date('2026-11-21T04:00:00Z'), 11);
    expect(name.length).to.be.at.most(63);
    expect(name).to.match(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
  });
});
