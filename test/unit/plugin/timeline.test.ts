import { expect } from 'chai';
import { formatTimeline, idsOf, isPointOf, timeline } from '../../../controller/plugin/timeline.js';
import { palette } from '../../../controller/plugin/output.js';
import { aPoint, aVM } from './fixtures.js';

const plain = palette(false);

describe('kubectl shadowkeep timeline', () => {
  const sql01 = aVM('sql01');
  const full = aPoint('sql01-initial', sql01, {
    phase: 'Completed',
    pointInTime: '2026-11-21T08:00:00Z',
    consistency: 'ApplicationConsistent',
    method: 'Full',
    size: '5.8Mi',
    uploaded: '2.1Mi',
    copies: [{ repository: 'azure-dr', phase: 'Completed', immutableUntil: '2026-12-05T08:00:00Z' }],
    verification: { time: '2026-11-21T09:00:00Z', level: 'Filesystem', result: 'Passed' },
  });
  const incremental = aPoint('sql01-after-migration', sql01, {
    phase: 'Completed',
    pointInTime: '2026-11-21T12:00:00Z',
    consistency: 'SavedState',
    method: 'Incremental',
    parent: 'sql01-initial',
    disks: [{ controllerLocation: 'SCSI 0:0', allocatedBytes: 6 * 1024 * 1024 }],
    uploaded: '1.2Ki',
    copies: [{ repository: 'azure-dr', phase: 'Copying' }],
  });
  const failed = aPoint('sql01-20261121-1600', sql01, {
    phase: 'Failed',
    pointInTime: '2026-11-21T16:00:00Z',
    failure: { reason: 'SnapshotFailed', message: 'the host refused the checkpoint' },
  });

  it('lists the recovery points oldest first, whatever order the API returns them in', () => {
    expect(timeline([failed, incremental, full]).map((e) => e.name)).to.deep.equal([
      'sql01-initial',
      'sql01-after-migration',
      'sql01-20261121-1600',
    ]);
  });

  it('tells consistency, method, size, data uploaded, offsite copies and verification of each', () => {
    const [first, second] = timeline([full, incremental]);
    expect(first).to.deep.include({
      consistency: 'ApplicationConsistent',
      method: 'Full',
      size: '5.8Mi',
      uploaded: '2.1Mi',
    });
    expect(first?.offsite).to.deep.equal([
      { repository: 'azure-dr', phase: 'Completed', immutableUntil: '2026-12-05T08:00:00Z' },
    ]);
    expect(first?.verification).to.deep.equal({
      result: 'Passed',
      level: 'Filesystem',
      time: '2026-11-21T09:00:00Z',
    });
    expect(second).to.deep.include({
      method: 'Incremental',
      parent: 'sql01-initial',
      size: '6Mi',
      uploaded: '1.2Ki',
    });
  });

  it('prints one row per point and spells out why points failed', () => {
    const lines = formatTimeline('sql01', timeline([full, incremental, failed]), plain).split('\n');
    expect(lines[0]).to.match(
      /^TIME\s+RECOVERY-POINT\s+PHASE\s+CONSISTENCY\s+METHOD\s+SIZE\s+UPLOADED\s+OFFSITE\s+VERIFIED$/,
    );
    expect(lines[1]).to.match(
      /^2026-11-21 08:00:00\s+sql01-initial\s+Completed\s+ApplicationConsistent\s+Full\s+5\.8Mi\s+2\.1Mi\s+azure-dr:Completed\s+Passed \(Filesystem\)$/,
    );
    expect(lines[2]).to.match(
      /sql01-after-migration\s+Completed\s+SavedState\s+Incremental\s+6Mi\s+1\.2Ki\s+azure-dr:Copying\s+-$/,
    );
    expect(lines[3]).to.match(/sql01-20261121-1600\s+Failed\s+-\s+-\s+-\s+-\s+-\s+-$/);
    expect(lines).to.include('sql01-20261121-1600: SnapshotFailed: the host refused the checkpoint');
  });

  it('suggests taking a first backup when the VM has none', () => {
    expect(formatTimeline('web01', [], plain)).to.contain('kubectl shadowkeep backup web01');
  });

  it("picks a VM's points by its Hyper-V ID, so a namesake on another host does not mix in", () => {
    const namesake = aVM('sql01-elsewhere', { host: 'hv-node-9' });
    namesake.status = { ...namesake.status, vmName: 'sql01' };
    const ids = idsOf(sql01.spec.id, [sql01, namesake]);
    expect(isPointOf(full, 'sql01', ids)).to.be.true;
    expect(isPointOf(aPoint('other', namesake), 'sql01', ids)).to.be.false;
  });

  it('still finds the points of a VM that has left the inventory, by name', () => {
    expect(isPointOf(full, 'sql01', idsOf('sql01', []))).to.be.true;
    expect(isPointOf(full, 'web01', idsOf('web01', []))).to.be.false;
  });
});
