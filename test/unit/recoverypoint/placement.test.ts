import { expect } from 'chai';
import {
  place,
  type PlacementHost,
  type PlacementPoint,
} from '../../../controller/recoverypoint/placement.js';

const now = new Date('2026-11-21T09:00:00Z');
const alive: PlacementHost = { heartbeat: new Date('2026-11-21T08:59:30Z'), unschedulable: false };
const silent: PlacementHost = { heartbeat: new Date('2026-11-21T08:50:00Z'), unschedulable: false };
const hosts = new Map([
  ['hv-node-1', alive],
  ['hv-node-2', alive],
  ['hv-node-3', silent],
]);
const limits = { perHost: 2, perVolume: 1 };

function aPoint(extra: Partial<PlacementPoint> = {}): PlacementPoint {
  return {
    key: 'ops/sql01-20261121-0800',
    vmId: 'vm-1',
    phase: 'Pending',
    waitingSince: new Date('2026-11-21T08:58:00Z'),
    ...extra,
  };
}
const onNode1 = { host: 'hv-node-1', volumes: ['C:\\ClusterStorage\\Volume1'] };

describe('recovery point placement', () => {
  it('assigns a new recovery point to the node that owns the VM now', () => {
    expect(place(aPoint(), onNode1, hosts, [], limits, now)).to.deep.equal({
      action: 'assign',
      node: 'hv-node-1',
    });
  });

  it('follows a VM that live-migrated before its backup started', () => {
    const moved = { host: 'hv-node-2', volumes: onNode1.volumes };
    expect(place(aPoint({ node: 'hv-node-1' }), moved, hosts, [], limits, now)).to.deep.equal({
      action: 'assign',
      node: 'hv-node-2',
    });
  });

  it('holds the point Pending while the host has as many backups running as allowed', () => {
    const active = [
      { key: 'a', node: 'hv-node-1', volumes: ['D:\\'] },
      { key: 'b', node: 'hv-node-1', volumes: ['E:\\'] },
    ];
    const decision = place(aPoint(), onNode1, hosts, active, limits, now);
    expect(decision).to.include({ action: 'wait', reason: 'WaitingForHostSlot' });
  });

  it('holds the point Pending while its shared volume is busy with another host’s backup', () => {
    const active = [{ key: 'a', node: 'hv-node-2', volumes: ['C:\\ClusterStorage\\Volume1'] }];
    expect(place(aPoint(), onNode1, hosts, active, limits, now)).to.include({
      action: 'wait',
      reason: 'WaitingForVolumeSlot',
    });
  });

  it('admits every member of a consistency group together, whatever the volume limit', () => {
    const active = [
      { key: 'a', node: 'hv-node-2', volumes: ['C:\\ClusterStorage\\Volume1'], group: 'farm-1' },
    ];
    expect(place(aPoint({ group: 'farm-1' }), onNode1, hosts, active, limits, now)).to.deep.equal({
      action: 'assign',
      node: 'hv-node-1',
    });
    expect(place(aPoint({ group: 'other' }), onNode1, hosts, active, limits, now)).to.include({
      action: 'wait',
    });
  });

  it('waits for a silent agent, then fails the point after half an hour so the policy can retry', () => {
    const onNode3 = { host: 'hv-node-3', volumes: [] };
    expect(place(aPoint(), onNode3, hosts, [], limits, now)).to.include({
      action: 'wait',
      reason: 'AgentUnavailable',
    });
    const old = aPoint({ waitingSince: new Date('2026-11-21T08:20:00Z') });
    expect(place(old, onNode3, hosts, [], limits, now)).to.include({
      action: 'fail',
      reason: 'AgentUnavailable',
    });
  });

  it('fails a running backup whose agent stopped reporting', () => {
    const running = aPoint({ node: 'hv-node-3', phase: 'Transferring' });
    const decision = place(running, { host: 'hv-node-3', volumes: [] }, hosts, [], limits, now);
    expect(decision).to.include({ action: 'fail', reason: 'AgentLost' });
  });

  it('leaves a running backup alone while its agent reports', () => {
    const running = aPoint({ node: 'hv-node-1', phase: 'Snapshotting' });
    expect(place(running, { host: 'hv-node-2', volumes: [] }, hosts, [], limits, now)).to.deep.equal({
      action: 'none',
    });
  });
});
