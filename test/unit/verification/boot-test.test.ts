import { expect } from 'chai';
import {
  annotations,
  labels,
  type RecoveryPoint,
  type VirtualMachineRestore,
} from '../../../controller/api/index.js';
import {
  bootTestName,
  bootTestOutcome,
  bootTestRestore,
} from '../../../controller/verification/boot-test.js';

const point = (name: string, uid = '5c0ffee0-0000-4000-8000-000000000001'): RecoveryPoint => ({
  apiVersion: 'shadowkeep.io/v1alpha1',
  kind: 'RecoveryPoint',
  metadata: {
    name,
    namespace: 'prod',
    uid,
    labels: { [labels.vm]: 'sql01', [labels.protection]: 'sql-tier', 'team.example/owner': 'dba' },
  },
  spec: { protection: 'sql-tier', vm: { name: 'sql01' } },
});

const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function finished(
  test: VirtualMachineRestore,
  status: VirtualMachineRestore['status'],
): VirtualMachineRestore {
  return { ...test, status };
}

describe('boot verification as a BootTest restore', () => {
  const rp = point('sql01-20261122-0400');

  it('names one test per point and occasion, the same after a restart', () => {
    const slot = bootTestName(rp, 'slot 2026-11-22T05:00:00.000Z');
    expect(bootTestName(rp, 'slot 2026-11-22T05:00:00.000Z')).to.equal(slot);
    expect(bootTestName(rp, 'slot 2026-11-29T05:00:00.000Z')).to.not.equal(slot);
    expect(
      bootTestName(point(rp.metadata.name, 'another-uid'), 'slot 2026-11-22T05:00:00.000Z'),
    ).to.not.equal(slot);
    expect(slot).to.match(/^sql01-20261122-0400-boot-[0-9a-f]{10}$/);
  });

  it('keeps the name valid when a long point name is cut at a dot or dash', () => {
    const long = point(`${'a'.repeat(39)}.b${'c'.repeat(100)}`);
    const name = bootTestName(long, 'request 2026-11-22T09:00:00Z');
    expect(name).to.match(dnsSubdomain);
    expect(name.length).to.be.at.most(253);
  });

  it('asks for a BootTest of the point with the policy settings, owned by the point, without its foreign labels', () => {
    const test = bootTestRestore(
      rp,
      'slot x',
      { nodeName: 'hv-test-1', path: 'D:\\BootTests', bootTimeout: '15m' },
      '12 chunks read back and verified',
    );
    expect(test.spec).to.deep.equal({
      recoveryPoint: rp.metadata.name,
      target: { type: 'BootTest', nodeName: 'hv-test-1', path: 'D:\\BootTests', bootTimeout: '15m' },
    });
    expect(test.metadata.ownerReferences).to.deep.equal([
      {
        apiVersion: 'shadowkeep.io/v1alpha1',
        kind: 'RecoveryPoint',
        name: rp.metadata.name,
        uid: rp.metadata.uid,
      },
    ]);
    expect(test.metadata.labels).to.deep.equal({
      [labels.verification]: 'Boot',
      [labels.vm]: 'sql01',
      [labels.protection]: 'sql-tier',
    });
    expect(bootTestRestore(rp, 'slot x', undefined, '').spec.target).to.deep.equal({ type: 'BootTest' });
  });

  it('has no result while the test VM runs', () => {
    const test = bootTestRestore(rp, 'slot x', undefined, 'checked');
    expect(bootTestOutcome(test)).to.equal(undefined);
    expect(bootTestOutcome(finished(test, { phase: 'Restoring' }))).to.equal(undefined);
  });

  it('passes Boot when the test VM booted, telling the checks before it and the heartbeat', () => {
    const test = bootTestRestore(rp, 'slot x', undefined, '12 chunks read back and verified');
    const outcome = bootTestOutcome(
      finished(test, {
        phase: 'Completed',
        restoredBytes: 4096,
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'Booted',
            message: 'the test VM booted (heartbeat OkApplicationsHealthy after 3 s) and was removed',
            lastTransitionTime: '2026-11-22T05:01:00Z',
          },
        ],
      }),
    );
    expect(outcome).to.include({ level: 'Boot', result: 'Passed', reason: 'Booted', bytesVerified: 4096 });
    expect(outcome?.message).to.equal(
      '12 chunks read back and verified; the test VM booted (heartbeat OkApplicationsHealthy after 3 s) and was removed',
    );
  });

  it('fails Boot with the reason the agent gave and the restore to look at', () => {
    const test = bootTestRestore(rp, 'slot x', undefined, 'checked');
    delete test.metadata.annotations?.[annotations.verifiedBeforeBoot];
    const outcome = bootTestOutcome(
      finished(test, {
        phase: 'Failed',
        failure: { reason: 'NoHeartbeat', message: 'its guest sent no heartbeat within 10m' },
      }),
    );
    expect(outcome).to.include({ level: 'Boot', result: 'Failed', reason: 'BootFailed' });
    expect(outcome?.message).to.equal(
      `its guest sent no heartbeat within 10m (VirtualMachineRestore ${test.metadata.name})`,
    );
  });
});
