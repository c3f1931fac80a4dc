import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { config, expect } from 'chai';
import type { VirtualMachineRestore } from '../../../controller/api/index.js';
import { openVirtualDisk } from '../../../controller/disk/index.js';
import { eventually } from '../../support/eventually.js';
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
    const vm = await env.sim.createVm({
      name: 'files01',
      owner: env.nodes[0]!,
      storage: env.sim.layout.csvVolume('Volume1'),
      disks: [{ kind: 'Ntfs', sizeBytes: 32 * MiB, files: [{ name: 'report.xlsx', data: report }] }],
      running: true,
    });
    await env.clients.recoveryPoints.create({
      apiVersion: 'shadowkeep.io/v1alpha1',
      kind: 'RecoveryPoint',
      metadata: { name: 'files01-1', namespace: env.namespace },
      spec: { vm: { name: 'files01', id: vm.id }, repository: 'primary' },
    });
    await eventually(
      async () => {
        const rp = await env.clients.recoveryPoints.get('files01-1', env.namespace);
        expect(rp?.status?.phase, JSON.stringify(rp?.status)).to.equal('Completed');
      },
      { timeoutMs: 60_000, what: 'the recovery point' },
    );
  });

  after(async () => {
    await env.stop();
    await rm(out, { recursive: true, force: true });
  });

  async function restoreTo(
    name: string,
    target: VirtualMachineRestore['spec']['target'],
  ): Promise<VirtualMachineRestore> {
    await env.clients.restores.create({
      apiVersion: 'shadowkeep.io/v1alpha1',
      kind: 'VirtualMachineRestore',
      metadata: { name, namespace: env.namespace },
      spec: { recoveryPoint: 'files01-1', target },
    });
    return eventually(
      async () => {
        const restore = await env.clients.restores.get(name, env.namespace);
        const phase = restore?.status?.phase;
        if (phase !== 'Completed' && phase !== 'Failed') {
          throw new Error(`${name} is ${phase ?? 'new'}`);
        }
        return restore!;
      },
      { timeoutMs: 60_000, what: `restore ${name} to finish` },
    );
  }

  it('restores a single file from inside the recovery point, byte for byte, without restoring the disk', async () => {
    const destination = path.join(out, 'items');
    const restore = await restoreTo('one-file', {
      type: 'Items',
      items: { paths: ['C:\\report.xlsx'], destination },
    });
    expect(restore.status?.phase, JSON.stringify(restore.status?.failure)).to.equal('Completed');
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
    expect(restore.status?.phase, JSON.stringify(restore.status?.failure)).to.equal('Completed');
    const vm = await env.sim.findVm('files01');
    const restored = await openVirtualDisk(path.join(folder, 'disk0.vhdx'));
    const live = await openVirtualDisk(vm.disks[0]!.path!);
    try {
      expect(restored.format).to.equal('vhdx');
      expect(restored.size).to.equal(live.size);
      for (let offset = 0; offset < live.size; offset += 4 * MiB) {
        const length = Math.min(4 * MiB, live.size - offset);
        expect(
          (await restored.read(offset, length)).equals(await live.read(offset, length)),
          `bytes at ${offset}`,
        ).to.be.true;
      }
    } finally {
      await restored.close();
      await live.close();
    }
  });
});
