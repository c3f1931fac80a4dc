import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { config, expect } from 'chai';
import type { VirtualMachineRestore } from '../../../controller/api/index.js';
import { aRunningVm, backUpNow } from '../../support/protection.js';
import { expectCompleted, expectSameDisk, restoreAndAwait } from '../../support/restores.js';
import { startEnvironment, type Environment } from '../../support/shadowkeep-env.js';

config.truncateThreshold = 0;
const MiB = 1024 * 1024;

describe('restoring with a VirtualMachineRestore', function () {
  this.timeout(180_000);
  let env: Environment;
  let out: string;
  const report = randomBytes(300_000);

  before(async () => {
    env = await startEnvironment({ nodes: 1 });
    out = await mkdtemp(path.join(tmpdir(), 'sk-restore-'));
    const vm = await aRunningVm(env, 'files01', [
      { kind: 'Ntfs', sizeBytes: 32 * MiB, files: [{ name: 'report.xlsx', data: report }] },
    ]);
    await backUpNow(env, 'files01-1', { name: 'files01', id: vm.id }, { repository: 'primary' });
  });

  after(async () => {
    await env.stop();
    await rm(out, { recursive: true, force: true });
  });

  const restoreTo = (name: string, target: VirtualMachineRestore['spec']['target']) =>
    restoreAndAwait(env, { name, recoveryPoint: 'files01-1', target });

  it('restores a single file from inside the recovery point, byte for byte, without restoring the disk', async () => {
    const destination = path.join(out, 'items');
    const restore = await restoreTo('one-file', {
      type: 'Items',
      items: { paths: ['C:\\report.xlsx'], destination },
    });
    expectCompleted(restore);
    expect(restore.status?.items).to.deep.equal([
      { path: 'C:\\report.xlsx', result: 'Restored', files: 1, bytes: report.length },
    ]);
    expect((await readFile(path.join(destination, 'report.xlsx'))).equals(report)).to.be.true;
  });

  it('says which items it could not find', async () => {
    const restore = await restoreTo('missing-file', {
      type: 'Items',
      items: { paths: ['/no/such/file.txt'], destination: path.join(out, 'missing') },
    });
    expect(restore.status?.phase).to.equal('Failed');
    expect(restore.status?.items?.[0]).to.include({ path: '/no/such/file.txt', result: 'NotFound' });
  });

  it('writes the disks of a recovery point as VHDX files with the content the VM had', async () => {
    const folder = path.join(out, 'disks');
    const restore = await restoreTo('disks', { type: 'Disks', nodeName: env.nodes[0]!, path: folder });
    expectCompleted(restore);
    const vm = await env.sim.findVm('files01');
    await expectSameDisk(path.join(folder, 'disk0.vhdx'), vm.disks[0]!.path!);
  });
});
