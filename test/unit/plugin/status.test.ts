import { expect } from 'chai';
import { coverage, formatCoverage, rpoStateOf } from '../../../controller/plugin/status.js';
import { palette } from '../../../controller/plugin/output.js';
import { aPolicy, aVM } from './fixtures.js';

const now = new Date('2026-11-22T12:00:00Z');
const ns = 'shadowkeep-system';
const rpoMet = (status: 'True' | 'False', message = '') => ({
  conditions: [
    {
      type: 'RPOMet',
      status,
      reason: status === 'True' ? 'RecoveryPointsFresh' : 'RecoveryPointTooOld',
      message,
      lastTransitionTime: '2026-11-22T00:00:00Z',
    },
  ],
});

describe('kubectl shadowkeep status', () => {
  const sql01 = aVM('sql01', {
    protectedBy: [{ namespace: ns, name: 'sql-tier' }],
    lastRecoveryPoint: {
      namespace: ns,
      name: 'sql01-20261122-0800',
      time: '2026-11-22T08:00:00Z',
      consistency: 'ApplicationConsistent',
    },
  });
  const web01 = aVM('web01', { protectedBy: [{ namespace: ns, name: 'estate' }] });
  const lab = aVM('lab07', { state: 'Off', backup: { mode: 'SavedState' } });

  it('lists every VM with the policy that protects it, its newest recovery point and its age', () => {
    const result = coverage([web01, sql01, lab], [aPolicy('sql-tier', rpoMet('True'))], ns, now);
    expect(result.vms.map((r) => r.vm)).to.deep.equal(['lab07', 'sql01', 'web01']);
    const row = result.vms.find((r) => r.vm === 'sql01');
    expect(row).to.include({
      host: 'hv-node-1',
      state: 'Running',
      backupMode: 'Online',
      rpo: 'Met',
      unprotected: false,
    });
    expect(row?.protectedBy).to.deep.equal(['sql-tier']);
    expect(row?.lastRecoveryPoint).to.deep.include({ name: 'sql01-20261122-0800', age: '4h' });
  });

  it('lists the VMs no policy protects', () => {
    const result = coverage([sql01, lab], [], ns, now);
    expect(result.unprotected).to.deep.equal(['lab07']);
    expect(result.vms.find((r) => r.vm === 'lab07')).to.include({ unprotected: true, rpo: '-' });
  });

  it('names a policy of another namespace with its namespace', () => {
    const vm = aVM('app05', { protectedBy: [{ namespace: 'team-app', name: 'apps' }] });
    expect(coverage([vm], [], ns, now).vms[0]?.protectedBy).to.deep.equal(['team-app/apps']);
  });

  it('flags a VM two policies select: the one that protects it, and the one that left it out', () => {
    const other = aPolicy('estate', {
      vms: [
        {
          id: sql01.metadata.name,
          name: 'sql01',
          mode: 'Excluded',
          blockers: [
            { reason: 'ProtectedByAnotherPolicy', message: 'also selected by sql-tier, which protects it' },
          ],
        },
        { id: web01.metadata.name, name: 'web01', mode: 'Online' },
      ],
    });
    const result = coverage([sql01, web01], [aPolicy('sql-tier'), other], ns, now);
    expect(result.doubleSelected).to.deep.equal(['sql01']);
    expect(result.vms.find((r) => r.vm === 'sql01')?.alsoSelectedBy).to.deep.equal(['estate']);
    expect(formatCoverage(result, palette(false))).to.match(/sql01 .*selected by 2 policies \(also estate\)/);
  });

  it('reads the RPO state of each VM from the policy’s RPOMet condition', () => {
    const missed = aPolicy(
      'estate',
      rpoMet(
        'False',
        'older than 6h allowed: web01 (newest is 7h old), db2 (no recovery point yet); check the agents',
      ),
    );
    expect(rpoStateOf(missed, 'web01')).to.equal('Missed');
    expect(rpoStateOf(missed, 'db2')).to.equal('Missed');
    expect(rpoStateOf(missed, 'web')).to.equal('Met');
    expect(rpoStateOf(aPolicy('new'), 'web01')).to.equal('Unknown');
  });

  it('prints a table and a summary that counts protected and unprotected VMs', () => {
    const text = formatCoverage(
      coverage([sql01, lab], [aPolicy('sql-tier', rpoMet('True'))], ns, now),
      palette(false),
    );
    const [header, first, second] = text.split('\n');
    expect(header).to.match(
      /^VM\s+HOST\s+STATE\s+BACKUP\s+PROTECTED-BY\s+LAST-RECOVERY-POINT\s+AGE\s+RPO\s+NOTES$/,
    );
    expect(first).to.match(/^lab07\s+hv-node-1\s+Off\s+SavedState\s+<unprotected>\s+-\s+-\s+-$/);
    expect(second).to.match(
      /^sql01\s+hv-node-1\s+Running\s+Online\s+sql-tier\s+sql01-20261122-0800\s+4h\s+Met$/,
    );
    expect(text).to.contain('2 VMs, 1 protected; 1 unprotected: lab07');
  });

  it('colours only when asked, and keeps the columns aligned when it does', () => {
    const result = coverage([sql01, lab], [aPolicy('sql-tier', rpoMet('True'))], ns, now);
    expect(formatCoverage(result, palette(false))).not.to.contain('\u001b[');
    const coloured = formatCoverage(result, palette(true));
    expect(coloured).to.contain('\u001b[32mMet\u001b[0m');
    const strip = (s: string) =>
      s.replaceAll('\u001b[32m', '').replaceAll('\u001b[31m', '').replaceAll('\u001b[0m', '');
    expect(strip(coloured)).to.equal(formatCoverage(result, palette(false)));
  });

  it('says where to look when the inventory is empty', () => {
    expect(formatCoverage(coverage([], [], ns, now), palette(false))).to.match(
      /No VMs in the inventory.*kubectl get hvhost/,
    );
  });
});
