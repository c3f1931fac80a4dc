import { expect } from 'chai';
import {
  namespaceMayProtect,
  owningPolicy,
  selects,
  type InventoryVM,
} from '../../../controller/policy/selection.js';

function aVM(name: string, extra: Partial<InventoryVM> = {}): InventoryVM {
  return {
    id: `id-${name}`,
    name,
    host: 'hv-node-1',
    labels: {},
    allowedNamespaces: [],
    guestProtected: false,
    ...extra,
  };
}

describe('VM selection', () => {
  it('selects VMs by exact name or glob, ignoring case as Hyper-V does', () => {
    const selector = { names: ['SQL01'], namePatterns: ['web-*'] };
    expect(selects(selector, aVM('sql01'))).to.be.true;
    expect(selects(selector, aVM('web-02'))).to.be.true;
    expect(selects(selector, aVM('sql02'))).to.be.false;
  });

  it('lets exclusions win over every other rule', () => {
    expect(selects({ namePatterns: ['web-*'], exclude: ['web-test*'] }, aVM('web-test-1'))).to.be.false;
  });

  it('narrows by labels, hosts and clusters together', () => {
    const gold = aVM('db1', { labels: { tier: 'gold' }, cluster: 'hvclu01', host: 'hv-node-2' });
    expect(selects({ matchLabels: { tier: 'gold' }, clusters: ['hvclu01'] }, gold)).to.be.true;
    expect(selects({ matchLabels: { tier: 'gold' }, hosts: ['hv-node-1'] }, gold)).to.be.false;
    expect(selects({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['gold'] }] }, gold)).to.be
      .false;
    expect(selects({ matchExpressions: [{ key: 'owner', operator: 'DoesNotExist' }] }, gold)).to.be.true;
  });

  it('selects nothing with an empty selector', () => {
    expect(selects({}, aVM('anything'))).to.be.false;
  });

  it('allows only the controller namespace, or namespaces the VM names, to protect it', () => {
    const vm = aVM('team-a-vm', { allowedNamespaces: ['team-a'] });
    expect(namespaceMayProtect('shadowkeep-system', vm, 'shadowkeep-system')).to.be.true;
    expect(namespaceMayProtect('team-a', vm, 'shadowkeep-system')).to.be.true;
    expect(namespaceMayProtect('team-b', vm, 'shadowkeep-system')).to.be.false;
  });

  it('gives a VM claimed by two policies to the older one', () => {
    const winner = owningPolicy([
      { namespace: 'ops', name: 'late', createdAt: '2026-11-02T00:00:00Z' },
      { namespace: 'ops', name: 'early', createdAt: '2026-11-01T00:00:00Z' },
    ]);
    expect(winner?.name).to.equal('early');
  });
});
