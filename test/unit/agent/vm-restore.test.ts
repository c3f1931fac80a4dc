import { expect } from 'chai';
import { distinctVhdxNames, vhdxName } from '../../../controller/agent/vm-restore.js';

describe('file names of restored disks', () => {
  it('keeps only the last segment of a host path and writes VHDX', () => {
    expect(vhdxName('C:\\ClusterStorage\\Volume1\\sql01\\os.vhdx')).to.equal('os.vhdx');
    expect(vhdxName('D:\\Legacy\\app05\\data.vhd')).to.equal('data.vhdx');
    expect(vhdxName('/srv/sim/csv/Volume1/disk0.vhdx')).to.equal('disk0.vhdx');
    expect(vhdxName('..\\..\\Windows\\evil.vhdx')).to.equal('evil.vhdx');
  });

  it('never puts two disks on one file when the VM had two of the same name in different folders', () => {
    expect(
      distinctVhdxNames([
        'C:\\VMs\\sql01\\os.vhdx',
        'D:\\Data\\sql01\\data.vhdx',
        'E:\\Logs\\sql01\\DATA.vhdx',
      ]),
    ).to.deep.equal(['os.vhdx', 'data.vhdx', 'DATA-2.vhdx']);
  });
});
