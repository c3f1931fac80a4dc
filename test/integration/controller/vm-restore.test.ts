import { access, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { config, expect } from 'chai';
import type { VirtualMachineRestore } from '../../../controller/api/index.js';
import { openVirtualDisk } from '../../../controller/disk/index.js';
import type { SimVm } from '../../../controller/hypervisor/filehost/config.js';
import { eventually } from '../../support/eventually.js';
import { aRunningVm, backUpNow } from '../../support/protection.js';
import { restoreAndAwait } from '../../support/restores.js';
import { startEnvironment, type Environment } from '../../support/shadowkeep-env.js';

config.truncateThreshold = 0;
const MiB = 1024 * 1024;

/** Every byte of a virtual disk as the guest sees it. */
async function diskContent(file: string): Promise<Buffer> {
  const disk = await openVirtualDisk(file);
  try {
    return await disk.read(0, disk.size);
  } finally {
    await disk.close();
  }
}

describe('restoring whole VMs (OriginalLocation, AlternateHost)', function () {
  this.timeout(240_000);
  let env: Environment;

  before(async () => {
    env = await startEnvironment({ nodes: 2 });
  });

  after(async () => {
    await env.stop();
  });

  /** A running VM on the first node with one NTFS disk, its recovery point, and the disk's content then. */
  async function protectedVm(name: string): Promise<{ vm: SimVm; point: string; content: Buffer }> {
    const vm = await aRunningVm(env, name, [
      { kind: 'Ntfs', sizeBytes: 16 * MiB, files: [{ name: 'data.bin', data: randomBytes(200_000) }] },
    ]);
    const point = `${name}-1`;
    await backUpNow(env, point, { name, id: vm.id }, { repository: 'primary' });
    return { vm, point, content: await diskContent(vm.disks[0]!.path!) };
  }

  const restore = (name: string, point: string, target: VirtualMachineRestore['spec']['target']) =>
    restoreAndAwait(env, { name, recoveryPoint: point, target }, 90_000);

  it('puts a deleted VM back on its host with its ID, its disk byte for byte, and starts it', async () => {
    const { vm, point, content } = await protectedVm('gone01');
    const host = env.hypervisor(env.nodes[0]!);
    await host.stopVm(vm.id, { force: true });
    await host.unregisterVm(vm.id);
    await rm(vm.disks[0]!.path!);

    const done = await restore('gone01-back', point, { type: 'OriginalLocation', startVM: true });
    expect(done.status?.phase, JSON.stringify(done.status)).to.equal('Completed');
    expect(done.status?.nodeName).to.equal(env.nodes[0]);
    expect(done.status?.restoredVM).to.deep.equal({ name: 'gone01', id: vm.id });
    const back = await env.sim.vm(vm.id);
    expect(back).to.include({ name: 'gone01', owner: env.nodes[0], state: 'Running' });
    expect(back.disks[0]!.path).to.equal(vm.disks[0]!.path);
    expect((await diskContent(back.disks[0]!.path!)).equals(content)).to.be.true;
    expect(await host.bootCheck(vm.id, 5_000)).to.include({ booted: true });
  });

  it('refuses to replace a running VM unless told to stop it, and leaves the VM untouched', async () => {
    const { vm, point } = await protectedVm('busy01');
    await env.sim.guestWrite(vm.id, 8 * MiB, Buffer.alloc(MiB, 7));
    const now = await diskContent(vm.disks[0]!.path!);

    const refused = await restore('busy01-refused', point, { type: 'OriginalLocation' });
    expect(refused.status?.phase).to.equal('Failed');
    expect(refused.status?.failure?.reason).to.equal('VMRunning');
    expect(refused.status?.failure?.message).to.contain('stopRunningVM: true');
    expect((await env.sim.vm(vm.id)).state).to.equal('Running');
    expect((await diskContent(vm.disks[0]!.path!)).equals(now)).to.be.true;
    const staged = (await readdir(path.dirname(vm.disks[0]!.path!))).filter((f) => f.includes('restoring'));
    expect(staged).to.deep.equal([]);
  });

  it('replaces a running VM when told to stop it: the guest is back at the point in time and left off', async () => {
    const { vm, point, content } = await protectedVm('busy02');
    await env.sim.guestWrite(vm.id, 8 * MiB, Buffer.alloc(MiB, 7));

    const done = await restore('busy02-replaced', point, { type: 'OriginalLocation', stopRunningVM: true });
    expect(done.status?.phase, JSON.stringify(done.status)).to.equal('Completed');
    expect(done.status?.restoredVM?.id).to.equal(vm.id);
    const back = await env.sim.vm(vm.id);
    expect(back.state).to.equal('Off');
    expect((await diskContent(back.disks[0]!.path!)).equals(content)).to.be.true;
  });

  it('restores a copy on another host with a new ID and name, next to the original, and it boots', async () => {
    const { vm, point, content } = await protectedVm('copy01');
    const folder = path.join(env.sim.layout.localStorage(env.nodes[1]!), 'restores');

    const done = await restore('copy01-elsewhere', point, {
      type: 'AlternateHost',
      nodeName: env.nodes[1]!,
      path: folder,
      newName: 'copy01-test',
      startVM: true,
    });
    expect(done.status?.phase, JSON.stringify(done.status)).to.equal('Completed');
    expect(done.status?.nodeName).to.equal(env.nodes[1]);
    const id = done.status?.restoredVM?.id ?? '';
    expect(id).to.match(/^[0-9a-f-]{36}$/);
    expect(id).to.not.equal(vm.id);
    const copy = await env.sim.vm(id);
    expect(copy).to.include({ name: 'copy01-test', owner: env.nodes[1], state: 'Running' });
    const disk = path.join(folder, 'copy01-test', 'Virtual Hard Disks', 'disk0.vhdx');
    expect(copy.disks.map((d) => d.path)).to.deep.equal([disk]);
    expect((await diskContent(disk)).equals(content)).to.be.true;
    // Its UEFI variables (the generation 2 guest state) came back with it.
    const guestState = await readFile(env.sim.layout.guestStateFile(id));
    expect(guestState.equals(await readFile(env.sim.layout.guestStateFile(vm.id)))).to.be.true;
    const staging = await access(path.join(folder, 'copy01-test', 'Staging')).then(
      () => 'left behind',
      () => 'removed',
    );
    expect(staging).to.equal('removed');
    expect(await env.hypervisor(env.nodes[1]!).bootCheck(id, 5_000)).to.include({ booted: true });
    expect((await env.sim.vm(vm.id)).state).to.equal('Running');
  });

  it('refuses a copy into a folder that exists and removes nothing there', async () => {
    const { point } = await protectedVm('copy02');
    const folder = path.join(env.sim.layout.localStorage(env.nodes[1]!), 'taken');
    await mkdir(path.join(folder, 'copy02'), { recursive: true });
    await writeFile(path.join(folder, 'copy02', 'keep.txt'), 'mine');

    const refused = await restore('copy02-taken', point, {
      type: 'AlternateHost',
      nodeName: env.nodes[1]!,
      path: folder,
    });
    expect(refused.status?.failure?.reason).to.equal('DestinationExists');
    expect(await stat(path.join(folder, 'copy02', 'keep.txt'))).to.be.ok;
  });

  it('removes the test VM of a boot test the agent was running when it restarted, and says the test was cut short', async () => {
    const { point } = await protectedVm('boot02');
    const node = env.nodes[1]!;
    await env.stopAgent(node);
    await env.clients.restores.create({
      apiVersion: 'shadowkeep.io/v1alpha1',
      kind: 'VirtualMachineRestore',
      metadata: { name: 'boot02-test', namespace: env.namespace },
      spec: { recoveryPoint: point, target: { type: 'BootTest', nodeName: node } },
    });
    const assigned = await eventually(
      async () => {
        const r = await env.clients.restores.get('boot02-test', env.namespace);
        expect(r?.status?.nodeName).to.equal(node);
        return r!;
      },
      { what: 'the boot test assigned to the stopped agent' },
    );
    // What an agent killed in the middle of the test leaves: the restore Restoring, the test VM
    // registered and running from its own folder.
    await env.clients.restores.applyStatus(
      'boot02-test',
      env.namespace,
      { phase: 'Restoring', nodeName: node },
      'shadowkeep-agent',
    );
    const suffix = assigned.metadata.uid!.slice(0, 8);
    const folder = path.join(env.hypervisor(node).testRestoreFolder, `boot-test-${suffix}`);
    const testVm = await env.sim.createVm({
      name: `boot02 (boot test ${suffix})`,
      owner: node,
      storage: folder,
      disks: [{ kind: 'Blank', sizeBytes: 8 * MiB }],
      running: true,
    });

    await env.startAgent(node);
    const failed = await eventually(
      async () => {
        const r = await env.clients.restores.get('boot02-test', env.namespace);
        expect(r?.status?.phase).to.equal('Failed');
        return r!;
      },
      { what: 'the interrupted boot test to fail' },
    );
    expect(failed.status?.failure).to.deep.include({ reason: 'AgentRestarted' });
    expect(failed.status?.failure?.message).to.contain('its test VM and files were removed');
    const gone = await env.sim.vm(testVm.id).then(
      () => 'still registered',
      () => 'removed',
    );
    expect(gone).to.equal('removed');
    const folderLeft = await access(folder).then(
      () => 'left behind',
      () => 'removed',
    );
    expect(folderLeft).to.equal('removed');
  });

  it('fails a restore whose agent stops reporting, saying what may be left on that host', async () => {
    const { point } = await protectedVm('lost01');
    const node = env.nodes[1]!;
    await env.stopAgent(node);
    const folder = path.join(env.sim.layout.localStorage(node), 'lost01-disks');
    await env.clients.restores.create({
      apiVersion: 'shadowkeep.io/v1alpha1',
      kind: 'VirtualMachineRestore',
      metadata: { name: 'lost01-disks', namespace: env.namespace },
      spec: { recoveryPoint: point, target: { type: 'Disks', nodeName: node, path: folder } },
    });
    await eventually(
      async () =>
        expect((await env.clients.restores.get('lost01-disks', env.namespace))?.status?.nodeName).to.equal(
          node,
        ),
      { what: 'the restore assigned to the silent agent' },
    );
    // Four minutes without a heartbeat from that node.
    env.clock.set(new Date(env.clock.now().getTime() + 240_000));
    env.manager.resyncAll();
    const failed = await eventually(
      async () => {
        const r = await env.clients.restores.get('lost01-disks', env.namespace);
        expect(r?.status?.phase).to.equal('Failed');
        return r!;
      },
      { what: 'the restore to fail' },
    );
    expect(failed.status?.failure?.reason).to.equal('AgentLost');
    expect(failed.status?.failure?.message)
      .to.contain(`the agent on ${node} has not reported since`)
      .and.contain(`files in ${folder} may be incomplete`);
    await env.startAgent(node);
  });
});
