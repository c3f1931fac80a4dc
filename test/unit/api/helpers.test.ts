import { expect } from 'chai';
import {
  allowedNamespacesOf,
  formatBytes,
  guestProtectedBy,
  percentOf,
  toLabelValue,
} from '../../../controller/api/index.js';

describe('API helpers', () => {
  it('show sizes as Kubernetes quantities people can read at a glance', () => {
    expect(formatBytes(900)).to.equal('900');
    expect(formatBytes(512 * 1024 ** 2)).to.equal('512Mi');
    expect(formatBytes(43_169_685_504)).to.equal('40.2Gi');
    expect(formatBytes(1.2 * 1024 ** 4)).to.equal('1.2Ti');
  });

  it('report progress as a whole percentage, 0 while the total is unknown', () => {
    expect(percentOf(0, 0)).to.equal(0);
    expect(percentOf(421, 1000)).to.equal(42);
    expect(percentOf(1001, 1000)).to.equal(100);
  });

  it('keep ordinary VM names as label values and make odd ones valid', () => {
    expect(toLabelValue('sql01')).to.equal('sql01');
    expect(toLabelValue('SQL 2019 (prod)')).to.equal('SQL-2019--prod');
    expect(toLabelValue('x'.repeat(80))).to.have.length(63);
  });

  it("read the platform team's tenancy and guest-protection annotations", () => {
    const metadata = {
      annotations: {
        'shadowkeep.io/allowed-namespaces': 'team-a, team-b,',
        'shadowkeep.io/guest-protected-by': ' sql-native ',
      },
    };
    expect(allowedNamespacesOf(metadata)).to.deep.equal(['team-a', 'team-b']);
    expect(guestProtectedBy(metadata)).to.equal('sql-native');
    expect(allowedNamespacesOf({})).to.deep.equal([]);
    expect(guestProtectedBy({ annotations: { 'shadowkeep.io/guest-protected-by': '' } })).to.equal(undefined);
  });
});
