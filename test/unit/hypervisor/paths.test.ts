import { expect } from 'chai';
import { checkWindowsPath, volumeOf } from '../../../controller/hypervisor/hyperv/paths.js';
import { HypervisorError } from '../../../controller/hypervisor/types.js';

const csv = ['C:\\ClusterStorage\\Volume1', 'C:\\ClusterStorage\\Volume10'];

describe('Windows storage paths', () => {
  it('puts a disk on the longest matching Cluster Shared Volume, case-insensitively', () => {
    expect(volumeOf('c:\\clusterstorage\\volume10\\sql01\\os.vhdx', csv)).to.deep.equal({
      kind: 'CSV',
      root: 'C:\\ClusterStorage\\Volume10',
    });
    expect(volumeOf('C:\\ClusterStorage\\Volume1\\web\\os.vhdx', csv)).to.deep.equal({
      kind: 'CSV',
      root: 'C:\\ClusterStorage\\Volume1',
    });
  });

  it('does not take a folder that only starts like a CSV for the CSV', () => {
    expect(volumeOf('C:\\ClusterStorage\\Volume100\\x.vhdx', csv)).to.deep.equal({
      kind: 'Local',
      root: 'C:\\',
    });
  });

  it('recognises SMB shares, also behind the long-path prefix', () => {
    expect(volumeOf('\\\\fs01\\vms\\sql01\\data.vhdx', csv)).to.deep.equal({
      kind: 'SMB',
      root: '\\\\fs01\\vms',
    });
    expect(volumeOf('\\\\?\\UNC\\fs01\\vms\\sql01\\data.vhdx', csv)).to.deep.equal({
      kind: 'SMB',
      root: '\\\\fs01\\vms',
    });
    expect(volumeOf('\\\\?\\D:\\VMs\\a.vhdx', csv)).to.deep.equal({ kind: 'Local', root: 'D:\\' });
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
