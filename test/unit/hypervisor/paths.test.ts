import { expect } from 'chai';
import { checkWindowsPath, volumeOf } from '../../../controller/hypervisor/hyperv/paths.js';
import { HypervisorError } from '../../../controller/hypervisor/types.js';

const csv = ['C:\\ClusterStorage\\Volume1', 'C:\\ClusterStorage\\Volume10'];

describe('Windows storage paths', () => {
  const expectVolume = (path: string, kind: string, root: string): void => {
    expect(volumeOf(path, csv), path).to.deep.equal({ kind, root });
  };

  it('puts a disk on the longest matching Cluster Shared Volume, case-insensitively', () => {
    expectVolume('c:\\clusterstorage\\volume10\\sql01\\os.vhdx', 'CSV', 'C:\\ClusterStorage\\Volume10');
    expectVolume('C:\\ClusterStorage\\Volume1\\web\\os.vhdx', 'CSV', 'C:\\ClusterStorage\\Volume1');
  });

  it('does not take a folder that only starts like a CSV for the CSV', () => {
    expectVolume('C:\\ClusterStorage\\Volume100\\x.vhdx', 'Local', 'C:\\');
  });

  it('recognises SMB shares, also behind the long-path prefix', () => {
    expectVolume('\\\\fs01\\vms\\sql01\\data.vhdx', 'SMB', '\\\\fs01\\vms');
    expectVolume('\\\\?\\UNC\\fs01\\vms\\sql01\\data.vhdx', 'SMB', '\\\\fs01\\vms');
    expectVolume('\\\\?\\D:\\VMs\\a.vhdx', 'Local', 'D:\\');
  });

  it('accepts absolute local and UNC paths and refuses relative or climbing ones', () => {
    expect(checkWindowsPath('D:\\Restores\\sql01 (copy)\\os.vhdx', 'disk')).to.equal(
      'D:\\Restores\\sql01 (copy)\\os.vhdx',
    );
    expect(checkWindowsPath('\\\\fs01\\restores\\a', 'disk')).to.equal('\\\\fs01\\restores\\a');
    for (const bad of ['Restores\\os.vhdx', 'D:\\Restores\\..\\Windows\\x', 'D:\\a\nb', '']) {
      expect(() => checkWindowsPath(bad, 'disk'), bad).to.throw(HypervisorError);
    }
  });
});
