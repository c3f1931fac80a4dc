import { expect } from 'chai';
import { verificationDue, type VerifiablePoint } from '../../../controller/verification/due.js';

const weekly = { schedule: { cron: '0 6 * * 0', timeZone: 'Europe/Berlin' }, level: 'Filesystem' as const };
// Sunday 2026-11-22 06:00 in Berlin is 05:00 UTC.
const slot = new Date('2026-11-22T05:00:00Z');
const afterSlot = new Date('2026-11-22T05:30:00Z');

const point = (name: string, at: string, extra: Partial<VerifiablePoint> = {}): VerifiablePoint => ({
  name,
  completed: true,
  pointInTime: new Date(at),
  ...extra,
});

describe('when a recovery point is verified', () => {
  const older = point('sql01-a', '2026-11-21T00:00:00Z');
  const newest = point('sql01-b', '2026-11-22T00:00:00Z');

  it('verifies the newest point of a VM once the weekly slot has come, at the policy level', () => {
    expect(verificationDue(newest, [older, newest], weekly, afterSlot)).to.deep.equal({
      verify: true,
      level: 'Filesystem',
      why: 'Scheduled',
      occasion: 'slot 2026-11-22T05:00:00.000Z',
    });
  });

  it('leaves older points alone', () => {
    expect(verificationDue(older, [older, newest], weekly, afterSlot)).to.deep.equal({ verify: false });
  });

  it('does not verify twice in one slot, whichever point was verified, and wakes at the next slot', () => {
    const verified = { ...older, verifiedAt: new Date(slot.getTime() + 60_000) };
    expect(verificationDue(newest, [verified, newest], weekly, afterSlot)).to.deep.equal({
      verify: false,
      wakeAt: new Date('2026-11-29T05:00:00Z'),
    });
  });

  it('verifies again in the next slot: a verification from last week does not count', () => {
    const lastWeek = { ...newest, verifiedAt: new Date('2026-11-15T05:10:00Z') };
    expect(verificationDue(lastWeek, [older, lastWeek], weekly, afterSlot)).to.include({ verify: true });
  });

  it('verifies a point someone asked for, once per request, even without a schedule, at the level asked', () => {
    // The request carries the requester's clock, which may run ahead of the controller's: only
    // whether it was answered counts.
    const asked = { ...older, request: '2026-11-22T09:00:00Z', requestedLevel: 'Checksums' as const };
    expect(verificationDue(asked, [asked], undefined, afterSlot)).to.deep.equal({
      verify: true,
      level: 'Checksums',
      why: 'Requested',
      occasion: 'request 2026-11-22T09:00:00Z',
    });
    const done = { ...asked, verifiedAt: afterSlot, answered: asked.request };
    expect(verificationDue(done, [done], undefined, afterSlot)).to.deep.equal({ verify: false });
    const again = { ...done, request: '2026-11-22T09:05:00Z' };
    expect(verificationDue(again, [again], undefined, afterSlot)).to.include({ verify: true });
  });

  it('never verifies a point that has not completed', () => {
    const running = { ...newest, completed: false, request: '2026-11-22T09:00:00Z' };
    expect(verificationDue(running, [running], weekly, afterSlot)).to.deep.equal({ verify: false });
  });
});
