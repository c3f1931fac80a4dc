import { expect } from 'chai';
import {
  planProtection,
  type PointInput,
  type PolicyInput,
  type VMInput,
} from '../../../controller/protection/plan.js';

const now = new Date('2026-11-21T09:17:00Z');

function aPolicy(extra: Partial<PolicyInput> = {}): PolicyInput {
  return {
    namespace: 'shadowkeep-system',
    name: 'sql-tier',
    generation: 3,
    createdAt: new Date('2026-11-01T00:00:00Z'),
    schedule: { cron: '0 */4 * * *' },
    suspend: false,
    retention: { keepLast: 3 },
    offsite: [],
    verificationConfigured: false,
    repositoryFound: true,
    repository: 'primary',
    ...extra,
  };
}

function aVM(name: string, extra: Partial<VMInput> = {}): VMInput {
  return { id: `id-${name}`, name, host: 'hv-node-1', mode: 'Online', blockers: [], present: true, ...extra };
}

function aPoint(name: string, vm: string, at: string, extra: Partial<PointInput> = {}): PointInput {
  return {
    name,
    vmId: `id-${vm}`,
    pointInTime: new Date(at),
    scheduledTime: new Date(at),
    phase: 'Completed',
    copies: {},
    ...extra,
  };
}

const condition = (plan: ReturnType<typeof planProtection>, type: string) =>
  plan.conditions.find((c) => c.type === type);

describe('protection planning', () => {
  it('creates one recovery point per protectable VM for the current schedule slot', () => {
    const plan = planProtection(
      aPolicy(),
      [aVM('sql01'), aVM('sql02'), aVM('fs03', { mode: 'Unprotectable' })],
      [],
      now,
    );
    expect(plan.create.map((c) => c.name)).to.deep.equal(['sql01-20261121-0800', 'sql02-20261121-0800']);
    expect(plan.nextRunTime?.toISOString()).to.equal('2026-11-21T12:00:00.000Z');
  });

  it('creates nothing again when the slot already has its recovery point, in any phase', () => {
    const points = [
      aPoint('sql01-20261121-0800', 'sql01', '2026-11-21T08:00:00Z', { phase: 'Transferring' }),
    ];
    expect(planProtection(aPolicy(), [aVM('sql01')], points, now).create).to.be.empty;
  });

  it('takes no backlog of slots from before the policy existed', () => {
    const plan = planProtection(
      aPolicy({ createdAt: new Date('2026-11-21T09:00:00Z') }),
      [aVM('sql01')],
      [],
      now,
    );
    expect(plan.create).to.be.empty;
    expect(plan.requeueAfterMs).to.be.at.most(3 * 3_600_000);
  });

  it('retries a failed recovery point as a new attempt after a back-off, and gives up after three', () => {
    const failed = (name: string, at: string) =>
      aPoint(name, 'sql01', '2026-11-21T08:00:00Z', {
        phase: 'Failed',
        pointInTime: undefined,
        completionTime: new Date(at),
      });
    const tooSoon = planProtection(
      aPolicy(),
      [aVM('sql01')],
      [failed('sql01-20261121-0800', '2026-11-21T09:16:30Z')],
      now,
    );
    expect(tooSoon.create).to.be.empty;
    expect(tooSoon.requeueAfterMs).to.equal(30_000);

    const due = planProtection(
      aPolicy(),
      [aVM('sql01')],
      [failed('sql01-20261121-0800', '2026-11-21T09:00:00Z')],
      now,
    );
    expect(due.create.map((c) => c.name)).to.deep.equal(['sql01-20261121-0800-r1']);

    const exhausted = planProtection(
      aPolicy(),
      [aVM('sql01')],
      ['sql01-20261121-0800', 'sql01-20261121-0800-r1', 'sql01-20261121-0800-r2'].map((n) =>
        failed(n, '2026-11-21T08:10:00Z'),
      ),
      now,
    );
    expect(exhausted.create).to.be.empty;
  });

  it('makes no recovery points while suspended, and says so', () => {
    const plan = planProtection(aPolicy({ suspend: true }), [aVM('sql01')], [], now);
    expect(plan.create).to.be.empty;
    expect(condition(plan, 'Ready')).to.include({ status: 'True', reason: 'Suspended' });
  });

  it('leaves a VM another policy protects to that policy and reports it', () => {
    const plan = planProtection(aPolicy(), [aVM('sql01', { claimedBy: 'ops/gold' })], [], now);
    expect(plan.create).to.be.empty;
    expect(plan.rows[0]).to.include({ mode: 'Excluded' });
    expect(plan.rows[0]!.blockers[0]!.message).to.match(/also selected by ops\/gold/);
  });

  it('deletes recovery points the retention rules expire, keeping the newest', () => {
    const points = ['00', '04', '08'].flatMap((h) =>
      ['19', '20', '21'].map((d) => aPoint(`sql01-202611${d}-${h}00`, 'sql01', `2026-11-${d}T${h}:00:00Z`)),
    );
    const plan = planProtection(aPolicy({ retention: { keepLast: 3 } }), [aVM('sql01')], points, now);
    expect(plan.delete.map((d) => d.name).sort()).to.have.length(6);
    expect(plan.delete.map((d) => d.name)).not.to.include('sql01-20261121-0800');
  });

  it('keeps the points offsite retention still keeps, deleting only those every repository expires', () => {
    // Six copied points; the primary keeps 2, the offsite target keeps 4.
    const points = ['00', '04', '08', '12', '16', '20'].map((h) =>
      aPoint(`p${h}`, 'sql01', `2026-11-20T${h}:00:00Z`, { copies: { vault: 'Completed' } }),
    );
    const plan = planProtection(
      aPolicy({ retention: { keepLast: 2 }, offsite: [{ repository: 'vault', retention: { keepLast: 4 } }] }),
      [aVM('sql01')],
      points,
      now,
    );
    expect(plan.delete.map((d) => d.name).sort()).to.deep.equal(['p00', 'p04']);
  });

  it('keeps a point the primary expires until its offsite copy is made', () => {
    const points = [
      aPoint('old', 'sql01', '2026-11-20T00:00:00Z', { copies: { vault: 'Failed' } }),
      aPoint('new', 'sql01', '2026-11-20T04:00:00Z', { copies: { vault: 'Completed' } }),
    ];
    const plan = planProtection(
      aPolicy({ retention: { keepLast: 1 }, offsite: [{ repository: 'vault', retention: { keepLast: 1 } }] }),
      [aVM('sql01')],
      points,
      now,
    );
    expect(plan.delete).to.deep.equal([]);
  });

  it('reports RPOMet false when the newest good recovery point is older than the schedule allows', () => {
    const stale = planProtection(
      aPolicy(),
      [aVM('sql01')],
      [aPoint('old', 'sql01', '2026-11-20T20:00:00Z')],
      now,
    );
    expect(condition(stale, 'RPOMet')).to.include({ status: 'False', reason: 'RecoveryPointTooOld' });
    expect(condition(stale, 'RPOMet')!.message).to.match(/sql01 \(newest is 13h17m old\)/);

    const fresh = planProtection(
      aPolicy(),
      [aVM('sql01')],
      [aPoint('new', 'sql01', '2026-11-21T08:00:00Z')],
      now,
    );
    expect(condition(fresh, 'RPOMet')).to.include({ status: 'True' });
  });

  it('is not Ready, and says how to fix it, when the repository does not exist', () => {
    const plan = planProtection(aPolicy({ repositoryFound: false }), [aVM('sql01')], [], now);
    expect(plan.create).to.be.empty;
    expect(condition(plan, 'Ready')).to.include({ status: 'False', reason: 'RepositoryNotFound' });
    expect(condition(plan, 'Ready')!.message).to.match(/create it there or correct spec.repository/);
  });

  it('is not Ready when the schedule is malformed', () => {
    const plan = planProtection(aPolicy({ schedule: { cron: 'every night' } }), [aVM('sql01')], [], now);
    expect(condition(plan, 'Ready')).to.include({ status: 'False', reason: 'InvalidSchedule' });
  });

  it('reports offsite lag when the newest point is not yet copied', () => {
    const points = [
      aPoint('a', 'sql01', '2026-11-21T04:00:00Z', { copies: { 'azure-dr': 'Completed' } }),
      aPoint('b', 'sql01', '2026-11-21T08:00:00Z'),
    ];
    const plan = planProtection(
      aPolicy({ offsite: [{ repository: 'azure-dr', retention: { keepLast: 7 } }] }),
      [aVM('sql01')],
      points,
      now,
    );
    expect(condition(plan, 'OffsiteInSync')).to.include({ status: 'False', reason: 'CopiesBehind' });
    expect(plan.rows[0]!.offsiteLag).to.equal('4h');
  });

  describe('the Verified condition', () => {
    const verified = (result: 'Passed' | 'Failed', message?: string) => ({
      verification: {
        time: new Date('2026-11-21T06:00:00Z'),
        result,
        level: 'Filesystem',
        ...(message ? { message } : {}),
      },
    });

    it('says verification is not configured when the policy has none and nothing was verified', () => {
      const plan = planProtection(
        aPolicy(),
        [aVM('sql01')],
        [aPoint('p1', 'sql01', '2026-11-21T08:00:00Z')],
        now,
      );
      expect(condition(plan, 'Verified')).to.include({ status: 'Unknown', reason: 'NotConfigured' });
    });

    it('names the VMs whose points were never verified yet', () => {
      const plan = planProtection(
        aPolicy({ verificationConfigured: true }),
        [aVM('sql01'), aVM('sql02')],
        [
          aPoint('p1', 'sql01', '2026-11-21T08:00:00Z', verified('Passed')),
          aPoint('p2', 'sql02', '2026-11-21T08:00:00Z'),
        ],
        now,
      );
      expect(condition(plan, 'Verified')).to.include({ status: 'Unknown', reason: 'NotVerifiedYet' });
      expect(condition(plan, 'Verified')?.message).to.contain('sql02').and.not.contain('sql01');
    });

    it('is True when the newest verification of every VM passed', () => {
      const plan = planProtection(
        aPolicy({ verificationConfigured: true }),
        [aVM('sql01')],
        [aPoint('p1', 'sql01', '2026-11-21T08:00:00Z', verified('Passed'))],
        now,
      );
      expect(condition(plan, 'Verified')).to.include({ status: 'True', reason: 'RecoveryPointsVerified' });
    });

    it('is False with the point and the cause when a VM failed its newest verification', () => {
      const plan = planProtection(
        aPolicy({ verificationConfigured: true }),
        [aVM('sql01'), aVM('sql02')],
        [
          aPoint('p1', 'sql01', '2026-11-21T08:00:00Z', verified('Failed', '1 damaged object(s)')),
          aPoint('p2', 'sql02', '2026-11-21T08:00:00Z', verified('Passed')),
        ],
        now,
      );
      expect(condition(plan, 'Verified')).to.include({ status: 'False', reason: 'VerificationFailed' });
      expect(condition(plan, 'Verified')?.message).to.contain(
        'sql01 (RecoveryPoint p1: 1 damaged object(s))',
      );
    });
  });
});
