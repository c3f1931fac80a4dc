import { expect } from 'chai';
import { restoreName, restoreOutcome, restoreTarget } from '../../../controller/plugin/restore.js';
import { verifyRequest } from '../../../controller/plugin/verify.js';
import { palette } from '../../../controller/plugin/output.js';
import { usageError } from './fixtures.js';

describe('kubectl shadowkeep restore and verify', () => {
  it('turns each --to into the restore target the API expects', () => {
    expect(restoreTarget({ to: 'original', stopRunningVm: true })).to.deep.equal({
      type: 'OriginalLocation',
      stopRunningVM: true,
    });
    expect(
      restoreTarget({
        to: 'host',
        node: 'hv-node-3',
        path: 'D:\\Restores',
        newName: 'sql01-test',
        start: true,
      }),
    ).to.deep.equal({
      type: 'AlternateHost',
      nodeName: 'hv-node-3',
      path: 'D:\\Restores',
      newName: 'sql01-test',
      startVM: true,
    });
    expect(restoreTarget({ to: 'disks', node: 'hv-node-1', path: 'D:\\R' })).to.deep.equal({
      type: 'Disks',
      nodeName: 'hv-node-1',
      path: 'D:\\R',
    });
    expect(
      restoreTarget({ to: 'items', items: ['C:\\a.txt', 'D:\\Reports'], destination: '\\\\fs01\\r' }),
    ).to.deep.equal({
      type: 'Items',
      items: { paths: ['C:\\a.txt', 'D:\\Reports'], destination: '\\\\fs01\\r' },
    });
    expect(restoreTarget({ to: 'boot-test' })).to.deep.equal({ type: 'BootTest' });
    expect(restoreTarget({ to: 'boot-test', node: 'hv-test-1', bootTimeout: '15m' })).to.deep.equal({
      type: 'BootTest',
      nodeName: 'hv-test-1',
      bootTimeout: '15m',
    });
  });

  it('says which flag is missing or does not belong, before anything is created', () => {
    expect(usageError(() => restoreTarget({ to: 'host', node: 'hv-node-3' }))).to.equal(
      '--to host needs --path',
    );
    expect(usageError(() => restoreTarget({ to: 'original', newName: 'x', node: 'n' }))).to.equal(
      '--new-name, --node cannot be used with --to original',
    );
    expect(usageError(() => restoreTarget({ to: 'items', destination: 'D:\\x' }))).to.contain('--item PATH');
    expect(usageError(() => restoreTarget({ to: 'elsewhere' }))).to.contain(
      'original, host, disks, items or boot-test',
    );
    expect(
      usageError(() => restoreTarget({ to: 'disks', node: 'n', path: 'D:\\R', bootTimeout: '5m' })),
    ).to.equal('--boot-timeout cannot be used with --to disks');
  });

  it('names the restore after the point and the second, within the 63-character limit', () => {
    const now = new Date('2026-11-22T00:15:30Z');
    expect(restoreName('sql01-20261121-0400', now)).to.equal('sql01-20261121-0400-restore-20261122-001530');
    expect(restoreName('x'.repeat(80), now).length).to.be.at.most(63);
  });

  it('reports a whole-VM restore with what registered where, and a failure with what to do', () => {
    const plain = palette(false);
    const base = { apiVersion: 'shadowkeep.io/v1alpha1', kind: 'VirtualMachineRestore' } as const;
    const spec = { recoveryPoint: 'p', target: { type: 'OriginalLocation' as const } };
    expect(
      restoreOutcome(
        {
          ...base,
          metadata: { name: 'r1' },
          spec,
          status: {
            phase: 'Completed',
            nodeName: 'hv-node-1',
            restoredBytes: 16 * 1024 * 1024,
            startTime: '2026-11-22T00:00:00Z',
            completionTime: '2026-11-22T00:00:05Z',
            conditions: [
              {
                type: 'Ready',
                status: 'True',
                reason: 'Restored',
                message: 'VM sql01 (1a2b) registered on hv-node-1, left off',
                lastTransitionTime: '2026-11-22T00:00:05Z',
              },
            ],
          },
        },
        plain,
      ),
    ).to.equal(
      'virtualmachinerestore/r1 Completed: VM sql01 (1a2b) registered on hv-node-1, left off, 16Mi written, on hv-node-1 in 5s',
    );
    expect(
      restoreOutcome(
        {
          ...base,
          metadata: { name: 'r2' },
          spec,
          status: { phase: 'Failed', failure: { reason: 'VMRunning', message: 'set stopRunningVM' } },
        },
        plain,
      ),
    ).to.equal('virtualmachinerestore/r2 Failed: VMRunning: set stopRunningVM');
  });

  it('asks for a verification with a time and a level, and clears a stale level', () => {
    const now = new Date('2026-11-22T00:15:30Z');
    expect(verifyRequest(now, 'Filesystem')).to.deep.equal({
      'shadowkeep.io/verify-requested': '2026-11-22T00:15:30.000Z',
      'shadowkeep.io/verify-level': 'Filesystem',
    });
    expect(verifyRequest(now)).to.deep.include({ 'shadowkeep.io/verify-level': null });
    expect(usageError(() => verifyRequest(now, 'Deep'))).to.contain('Checksums, Filesystem, Boot');
  });
});
