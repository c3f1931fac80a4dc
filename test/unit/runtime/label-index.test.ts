import { expect } from 'chai';
import type { KubeObject } from '../../../controller/kube/objects.js';
import { LabelIndex } from '../../../controller/runtime/label-index.js';

const point = (name: string, labels: Record<string, string>): KubeObject => ({
  metadata: { name, namespace: 'prod', labels },
});

describe('looking recovery points up by label', () => {
  const vmId = 'shadowkeep.io/vm-id';
  const policy = 'shadowkeep.io/protection';

  it('finds every point of a VM, and only those', () => {
    const index = new LabelIndex([vmId, policy]);
    index.update('prod/sql-0100', undefined, point('sql-0100', { [vmId]: 'a', [policy]: 'nightly' }));
    index.update('prod/sql-0200', undefined, point('sql-0200', { [vmId]: 'a', [policy]: 'nightly' }));
    index.update('prod/web-0100', undefined, point('web-0100', { [vmId]: 'b', [policy]: 'nightly' }));
    expect(index.lookup(vmId, 'a')).to.have.members(['prod/sql-0100', 'prod/sql-0200']);
    expect(index.lookup(vmId, 'b')).to.deep.equal(['prod/web-0100']);
    expect(index.lookup(policy, 'nightly')).to.have.length(3);
    expect(index.lookup(vmId, 'unknown')).to.deep.equal([]);
  });

  it('follows a relabelled point and forgets a deleted one', () => {
    const index = new LabelIndex([policy]);
    const before = point('sql-0100', { [policy]: 'nightly' });
    index.update('prod/sql-0100', undefined, before);
    const after = point('sql-0100', { [policy]: 'hourly' });
    index.update('prod/sql-0100', before, after);
    expect(index.lookup(policy, 'nightly')).to.deep.equal([]);
    expect(index.lookup(policy, 'hourly')).to.deep.equal(['prod/sql-0100']);
    index.update('prod/sql-0100', after, undefined);
    expect(index.lookup(policy, 'hourly')).to.deep.equal([]);
  });

  it('keeps a point whose other labels change where it was', () => {
    const index = new LabelIndex([policy]);
    const before = point('sql-0100', { [policy]: 'nightly' });
    index.update('prod/sql-0100', undefined, before);
    index.update(
      'prod/sql-0100',
      before,
      point('sql-0100', { [policy]: 'nightly', 'shadowkeep.io/node': 'hv-01' }),
    );
    expect(index.lookup(policy, 'nightly')).to.deep.equal(['prod/sql-0100']);
  });

  it('says how to fix a lookup by a label it does not keep', () => {
    const index = new LabelIndex([policy]);
    expect(() => index.lookup(vmId, 'a')).to.throw(/not indexed; add it to the informer's indexLabels/);
  });
});
