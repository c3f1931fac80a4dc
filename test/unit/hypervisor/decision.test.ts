import { expect } from 'chai';
import { decideBackupMode, type BackupDecision } from '../../../controller/hypervisor/decision.js';
import {
  aDisk,
  aVm,
  backupService,
  busyWith,
  inState,
  snapshotsOn,
  withCheckpointType,
  withDisks,
  withGroupState,
  withGuest,
  withHeartbeat,
  withoutBackupService,
} from './builders.js';

const host2022 = { recoverySnapshots: true };
const host2012r2 = { recoverySnapshots: false };
const codes = (d: BackupDecision): string[] => d.blockers.map((b) => b.code);

describe('online-backup decision', () => {
  it('plans an online backup for a running VM whose guest meets every requirement', () => {
    const decision = decideBackupMode(aVm(), host2022);
    expect(decision).to.deep.equal({
      mode: 'Online',
      blockers: [],
      waitFor: [],
      warnings: [],
      notCovered: [],
    });
  });

  it('takes a saved-state backup when the Backup integration service is disabled, and says how to enable it', () => {
    const decision = decideBackupMode(aVm(backupService(false)), host2022);
    expect(decision.mode).to.equal('SavedState');
    expect(decision.blockers).to.have.length(1);
    expect(decision.blockers[0]).to.include({ code: 'IC_VSS_DISABLED', blocks: 'Online' });
    expect(decision.blockers[0]?.fix).to.match(
      /enable the Backup \(volume shadow copy\) integration service/,
    );
  });

  it('finds the Backup service by its id even when the host names it in another language', () => {
    const vm = aVm();
    vm.integrationServices = vm.integrationServices.map((s) => ({
      ...s,
      name: 'Sicherung (Volumeschattenkopie)',
      id: s.id.toLowerCase(),
    }));
    expect(decideBackupMode(vm, host2022).mode).to.equal('Online');
  });

  it('reports a VM without the Backup service at all', () => {
    expect(codes(decideBackupMode(aVm(withoutBackupService()), host2022))).to.deep.equal(['IC_VSS_MISSING']);
  });

  for (const state of ['Off', 'Saved', 'Paused'] as const) {
    it(`backs up a VM that is ${state.toLowerCase()} offline, without complaining about a guest that cannot answer`, () => {
      const decision = decideBackupMode(aVm(inState(state)), host2022);
      expect(decision.mode).to.equal('SavedState');
      expect(codes(decision)).to.deep.equal(['NOT_RUNNING']);
    });
  }

  it('lists every blocker, not only the first', () => {
    const decision = decideBackupMode(
      aVm(
        backupService(true, 'NoContact'),
        withHeartbeat('NoContact'),
        withGuest({ dynamicDisks: true, nonSnapshotFileSystem: true }),
        withGroupState('PartialOnline'),
      ),
      host2022,
    );
    expect(decision.mode).to.equal('SavedState');
    expect(codes(decision)).to.deep.equal([
      'IC_VSS_NO_CONTACT',
      'GUEST_NOT_BOOTED',
      'GUEST_DYNAMIC_DISKS',
      'GUEST_FILE_SYSTEM',
      'CLUSTER_GROUP_OFFLINE',
    ]);
    for (const blocker of decision.blockers) {
      expect(blocker.reason).to.not.equal('');
      expect(blocker.fix).to.not.equal('');
    }
  });

  it('reports outdated integration services once, from either the status or the guest facts', () => {
    const decision = decideBackupMode(
      aVm(backupService(true, 'ProtocolMismatch'), withGuest({ integrationComponentsOutdated: true })),
      host2022,
    );
    expect(codes(decision)).to.deep.equal(['IC_OUTDATED']);
  });

  it('falls back to saved state for a guest OS without volume shadow copy', () => {
    const decision = decideBackupMode(
      aVm(withGuest({ os: 'Windows 2000 Server', vssCapable: false })),
      host2022,
    );
    expect(codes(decision)).to.deep.equal(['GUEST_NO_VSS']);
    expect(decision.blockers[0]?.reason).to.contain('Windows 2000 Server');
  });

  it('warns that guest facts are unknown when the host cannot see them, and still plans online', () => {
    const decision = decideBackupMode(
      aVm(withGuest({ dynamicDisks: undefined, shadowStorageElsewhere: undefined })),
      host2022,
    );
    expect(decision.mode).to.equal('Online');
    expect(decision.warnings.map((w) => w.code)).to.deep.equal(['GUEST_PRECONDITION_UNKNOWN']);
    expect(decision.warnings[0]?.reason)
      .to.contain('GUEST_DYNAMIC_DISKS')
      .and.contain('GUEST_SHADOW_STORAGE');
  });

  it('needs the snapshot file location on the volume of every disk', () => {
    const decision = decideBackupMode(aVm(snapshotsOn('D:\\Snapshots', 'D:\\')), host2022);
    expect(codes(decision)).to.deep.equal(['SNAPSHOT_LOCATION']);
    expect(
      decideBackupMode(
        aVm(snapshotsOn('c:\\clusterstorage\\volume1\\', 'c:\\clusterstorage\\volume1\\')),
        host2022,
      ).mode,
    ).to.equal('Online');
  });

  it('lists pass-through, shared and unreachable disks as not covered, and still protects the rest', () => {
    const decision = decideBackupMode(
      aVm(
        withDisks(
          aDisk(),
          aDisk({ id: 'pt', path: 'PhysicalDisk3', storage: 'PassThrough', format: 'Physical' }),
          aDisk({ id: 'quorum', storage: 'Shared' }),
          aDisk({ id: 'far', path: 'E:\\vm\\data.vhdx', volume: 'E:\\', visible: false, storage: 'Local' }),
        ),
      ),
      host2022,
    );
    expect(decision.mode).to.equal('Online');
    expect(decision.notCovered.map((d) => [d.diskId, d.code])).to.deep.equal([
      ['pt', 'PASSTHROUGH_EXCLUDED'],
      ['quorum', 'SHARED_DISK_UNSUPPORTED'],
      ['far', 'STORAGE_NOT_VISIBLE'],
    ]);
    expect(decision.notCovered[0]?.reason).to.equal(
      'pass-through disk PhysicalDisk3 at SCSI 0:0 is not captured by host-level backup',
    );
  });

  it('calls a VM with only pass-through disks unprotectable', () => {
    const decision = decideBackupMode(
      aVm(withDisks(aDisk({ storage: 'PassThrough', path: 'PhysicalDisk2', format: 'Physical' }))),
      host2022,
    );
    expect(decision.mode).to.equal('Unprotectable');
    expect(codes(decision)).to.deep.equal(['NO_PROTECTABLE_DISK']);
  });

  it('needs checkpoints enabled only where backups are made from checkpoints (2012 R2)', () => {
    expect(decideBackupMode(aVm(withCheckpointType('Disabled')), host2022).mode).to.equal('Online');
    const old = decideBackupMode(aVm(withCheckpointType('Disabled')), host2012r2);
    expect(old.mode).to.equal('Unprotectable');
    expect(codes(old)).to.deep.equal(['CHECKPOINTS_DISABLED']);
  });

  it('keeps the mode but makes the backup wait while a merge or migration runs', () => {
    const decision = decideBackupMode(aVm(busyWith('MergingDisks', 'Migrating')), host2022);
    expect(decision.mode).to.equal('Online');
    expect(decision.waitFor.map((w) => w.reason)).to.deep.equal([
      'the VM is busy: a checkpoint merge is in progress',
      'the VM is busy: a live migration is in progress',
    ]);
  });
});
