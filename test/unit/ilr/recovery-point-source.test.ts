import { expect } from 'chai';
import { chooseDisk, RecoveryPointLookupError } from '../../../controller/ilr/recovery-point-source.js';

describe('choosing the disk of a recovery point to browse', () => {
  const os = { controllerLocation: 'SCSI 0:0', fileName: 'sql01-os.vhdx', manifest: 'm-os' };
  const data = { controllerLocation: 'SCSI 0:1', fileName: 'sql01-data.vhdx', manifest: 'm-data' };
  const passThrough = { controllerLocation: 'SCSI 0:2' };

  it('takes the only stored disk without asking', () => {
    expect(chooseDisk('sql01-20261121', [os, passThrough]).manifest).to.equal('m-os');
  });

  it('matches --vm-disk against the controller location or the file name, case-insensitively', () => {
    expect(chooseDisk('rp', [os, data], 'scsi 0:1').manifest).to.equal('m-data');
    expect(chooseDisk('rp', [os, data], 'SQL01-OS.VHDX').manifest).to.equal('m-os');
  });

  it('asks for --vm-disk when the VM has several stored disks, listing them', () => {
    expect(() => chooseDisk('rp', [os, data])).to.throw(
      RecoveryPointLookupError,
      'recovery point rp has 2 disks; choose one with --vm-disk: SCSI 0:0 (sql01-os.vhdx), SCSI 0:1 (sql01-data.vhdx)',
    );
  });

  it('says so when a recovery point has no stored disk yet', () => {
    expect(() => chooseDisk('rp', [passThrough])).to.throw(
      RecoveryPointLookupError,
      /has no stored disks \(is it Completed\?\)/,
    );
  });
});
