import { expect } from 'chai';
import { execa } from 'execa';
import { copyFile, mkdir, readFile, rm, stat } from 'node:fs/promises';
import {
  blockIndex,
  guestBlock,
  runGuestWriter,
} from '../../../controller/hypervisor/filehost/guest-writer.js';
import { FileHost } from '../../../controller/hypervisor/filehost/filehost.js';
import {
  HypervisorError,
  IntegrationServiceId,
  type DiskChanges,
  type Snapshot,
  type StateFileKind,
} from '../../../controller/hypervisor/types.js';
import { decideBackupMode } from '../../../controller/hypervisor/decision.js';
import { aCluster, mib, type TestCluster } from './sim-fixture.js';

async function failure(promise: Promise<unknown>): Promise<HypervisorError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'expected the operation to fail').to.be.instanceOf(HypervisorError);
  return err as HypervisorError;
}

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

describe('filehost backend', function () {
  this.timeout(30_000);
  let c: TestCluster;
  beforeEach(async () => {
    c = await aCluster();
  });
  afterEach(async () => {
    await c.dispose();
  });

  describe('inventory', () => {
    it('lists a VM only on the node that owns it, with its facts and integration services by id', async () => {
      const id = await c.createVm({ generation: 1, guest: { os: 'Ubuntu 24.04', family: 'Linux' } });
      const [vm] = await c.node1.listVms();
      expect(await c.node2.listVms()).to.deep.equal([]);
      expect(vm).to.deep.include({
        id,
        name: 'sql01',
        state: 'Running',
        generation: 1,
        ownerNode: 'hv-node-1',
        heartbeat: 'OkApplicationsHealthy',
        changeTracking: true,
      });
      expect(vm?.guest).to.include({ os: 'Ubuntu 24.04', family: 'Linux' });
      expect(vm?.cluster).to.deep.equal({
        clusterName: 'hvclu01',
        ownerNode: 'hv-node-1',
        groupState: 'Online',
      });
      expect(vm?.integrationServices.find((s) => s.id === IntegrationServiceId.backup)).to.include({
        enabled: true,
        status: 'Ok',
      });
      expect(vm?.disks[0]).to.include({
        controllerType: 'IDE',
        storage: 'CSV',
        format: 'VHDX',
        virtualSize: 16 * mib,
        visible: true,
      });
      expect(vm?.disks[0]?.volume).to.equal(`${c.root}/csv/Volume1`);
    });

    it('tells local, SMB, pass-through and shared disks apart, and which ones this node can see', async () => {
      const local = await c.createVm({
        name: 'local',
        storage: `${c.root}/hosts/hv-node-2/local`,
        owner: 'hv-node-1',
        disks: [{ kind: 'Blank', sizeBytes: 8 * mib }],
      });
      await c.createVm({
        name: 'mixed',
        storage: `${c.root}/smb/fs01/vms`,
        disks: [
          { kind: 'Blank', sizeBytes: 8 * mib },
          { kind: 'PassThrough', diskNumber: 3 },
          { kind: 'Blank', sizeBytes: 8 * mib, shared: true },
        ],
      });
      const vms = await c.node1.listVms();
      const mixed = vms.find((v) => v.name === 'mixed');
      expect(mixed?.disks.map((d) => [d.storage, d.visible])).to.deep.equal([
        ['SMB', true],
        ['PassThrough', false],
        ['Shared', true],
      ]);
      expect(mixed?.disks[0]?.volume).to.equal(`${c.root}/smb/fs01/vms`);
      const decision = decideBackupMode(
        vms.find((v) => v.id === local)!,
        await c.node1.getHost(),
      );
      expect(decision.mode).to.equal('Unprotectable');
      expect(decision.notCovered.map((d) => d.code)).to.deep.equal(['STORAGE_NOT_VISIBLE']);
    });

    it('reports the host with its cluster and shared volumes', async () => {
      expect(await c.node1.getHost()).to.deep.include({
        name: 'hv-node-1',
        recoverySnapshots: true,
        cluster: { name: 'hvclu01', sharedVolumes: [`${c.root}/csv/Volume1`] },
      });
      expect((await c.standalone.getHost()).cluster).to.equal(undefined);
    });
  });

  describe('snapshots', () => {
    it('takes an application-consistent snapshot of a running VM without stopping it', async () => {
      const id = await c.createVm();
      const snapshot = await c.node1.createSnapshot(id, { mode: 'Online', label: 'rp-1' });
      expect(snapshot).to.include({ consistency: 'ApplicationConsistent', downtimeMs: 0, label: 'rp-1' });
      expect((await c.node1.getVm(id))?.state).to.equal('Running');
      const [disk] = snapshot.disks;
      expect(await c.readDisk(disk!.snapshotPath)).to.deep.equal(await c.readDisk(disk!.sourcePath));
      expect(await exists(snapshot.configurationPath)).to.be.true;
    });

    it('takes a saved-state backup when the Backup integration service is disabled, and measures the downtime', async () => {
      const id = await c.createVm();
      await c.sim.setIntegrationService(id, 'backup', false);
      const vm = await c.node1.getVm(id);
      expect(decideBackupMode(vm!, await c.node1.getHost()).mode).to.equal('SavedState');
      const snapshot = await c.node1.createSnapshot(id, { mode: 'SavedState', label: 'rp-1' });
      expect(snapshot.consistency).to.equal('SavedState');
      expect(snapshot.downtimeMs).to.be.greaterThan(0);
      expect((await c.node1.getVm(id))?.state).to.equal('Running');
    });

    it('refuses an application-consistent snapshot the guest cannot make, unless crash consistency is allowed', async () => {
      const id = await c.createVm();
      await c.sim.setIntegrationService(id, 'backup', false);
      const err = await failure(c.node1.createSnapshot(id, { mode: 'Online', label: 'rp-1' }));
      expect(err.code).to.equal('GuestNotConsistent');
      expect(err.message).to.contain('Backup integration service is disabled');
      expect(await c.node1.listRecoverySnapshots()).to.deep.equal([]);
      const crash = await c.node1.createSnapshot(id, {
        mode: 'Online',
        allowCrashConsistent: true,
        label: 'rp-1',
      });
      expect(crash.consistency).to.equal('CrashConsistent');
    });

    it('backs up an off VM with no downtime', async () => {
      const id = await c.createVm({ running: false });
      const snapshot = await c.node1.createSnapshot(id, { mode: 'SavedState', label: 'rp-1' });
      expect(snapshot).to.include({ consistency: 'SavedState', downtimeMs: 0 });
      expect((await c.node1.getVm(id))?.state).to.equal('Off');
    });

    it('leaves pass-through and shared disks out of the snapshot and says so', async () => {
      const id = await c.createVm({
        disks: [
          { kind: 'Blank', sizeBytes: 8 * mib },
          { kind: 'PassThrough', diskNumber: 2 },
        ],
      });
      const snapshot = await c.node1.createSnapshot(id, { mode: 'Online', label: 'rp-1' });
      expect(snapshot.disks).to.have.length(1);
      expect(snapshot.excludedDisks).to.have.length(1);
      expect(snapshot.excludedDisks[0]?.reason).to.match(/pass-through disk PhysicalDisk2/);
    });

    for (const mode of ['Online', 'SavedState'] as const) {
      it(`freezes the disk at one point in time while a guest keeps writing (${mode})`, async () => {
        const id = await c.createVm();
        await c.sim.setFaults(id, { slowDiskMs: 150 });
        const stop = new AbortController();
        let written = 0;
        const writer = runGuestWriter(c.sim, id, {
          signal: stop.signal,
          onWrite: () => (written += 1),
          startOffset: 12 * mib,
          areaBytes: 2 * mib,
        });
        while (written < 5) {
          await new Promise((r) => setTimeout(r, 10));
        }
        const snapshot = await c.node1.createSnapshot(id, { mode, label: 'rp-1' });
        const atFreeze = written;
        // The guest goes on writing after the snapshot (after the resume, in saved-state mode).
        while (written < atFreeze + 5) {
          await new Promise((r) => setTimeout(r, 10));
        }
        stop.abort();
        await writer;
        const raw = await c.readDisk(snapshot.disks[0]!.snapshotPath);
        const held: (number | undefined)[] = [];
        for (let offset = 12 * mib; offset < 14 * mib; offset += 4096) {
          held.push(blockIndex(raw.subarray(offset, offset + 4096)));
        }
        const count = held.filter((i) => i !== undefined).length;
        // Exactly the first `count` writes, each complete, and nothing written after the freeze.
        expect(held.slice(0, count)).to.deep.equal([...Array(count).keys()]);
        expect(held.slice(count).every((i) => i === undefined)).to.be.true;
        for (let i = 0; i < count; i += 1) {
          const block = raw.subarray(12 * mib + i * 4096, 12 * mib + (i + 1) * 4096);
          expect(block.equals(guestBlock(i, 4096))).to.be.true;
        }
        expect(count).to.be.at.least(5).and.at.most(atFreeze);
        expect(written).to.be.greaterThan(count);
      });
    }
  });

  describe('change tracking', () => {
    async function backup(
      host: FileHost,
      id: string,
      since?: Parameters<FileHost['getChanges']>[1],
    ): Promise<{
      changes: DiskChanges[];
      reference: NonNullable<Awaited<ReturnType<FileHost['releaseSnapshot']>>>;
    }> {
      const snapshot = await host.createSnapshot(id, { mode: 'Online', label: 'rp' });
      const changes = await host.getChanges(snapshot, since);
      const reference = await host.releaseSnapshot(snapshot, { keepAsReference: true });
      return { changes, reference: reference! };
    }

    it('reads everything the first time, then only the ranges the guest wrote', async () => {
      const id = await c.createVm();
      const first = await backup(c.node1, id);
      expect(first.changes[0]).to.include({ kind: 'All', reason: 'NoReference' });
      await c.sim.guestWrite(id, 4 * mib, Buffer.alloc(8192, 1));
      await c.sim.guestWrite(id, 4 * mib + 8192, Buffer.alloc(4096, 2));
      await c.sim.guestWrite(id, 10 * mib, Buffer.alloc(512, 3));
      const second = await backup(c.node1, id, first.reference);
      expect(second.changes).to.deep.equal([
        {
          kind: 'Ranges',
          diskId: first.reference.disks[0]!.diskId,
          ranges: [
            { offset: 4 * mib, length: 12288 },
            { offset: 10 * mib, length: 512 },
          ],
        },
      ]);
      const third = await backup(c.node1, id, second.reference);
      expect(third.changes[0]).to.deep.include({ kind: 'Ranges', ranges: [] });
    });

    it('stays incremental after a live migration: the next node continues from the same reference point', async () => {
      const id = await c.createVm();
      const first = await backup(c.node1, id);
      await c.node1.liveMigrate(id, 'hv-node-2');
      expect(await c.node1.getVm(id)).to.equal(undefined);
      expect((await c.node2.getVm(id))?.state).to.equal('Running');
      await c.sim.guestWrite(id, 2 * mib, Buffer.alloc(4096, 7));
      const second = await backup(c.node2, id, first.reference);
      expect(second.changes[0]).to.deep.include({
        kind: 'Ranges',
        ranges: [{ offset: 2 * mib, length: 4096 }],
      });
    });

    it('loses the baseline after a storage migration, so the next backup reads everything', async () => {
      const id = await c.createVm();
      const first = await backup(c.node1, id);
      await mkdir(`${c.root}/csv/Volume2`, { recursive: true });
      await c.node1.moveStorage(id, `${c.root}/csv/Volume2/sql01`);
      const vm = await c.node1.getVm(id);
      expect(vm?.disks[0]?.path).to.equal(`${c.root}/csv/Volume2/sql01/disk0.vhdx`);
      const second = await backup(c.node1, id, first.reference);
      expect(second.changes[0]).to.include({ kind: 'All', reason: 'TrackingLost' });
    });

    it('reads everything when the reference point was destroyed', async () => {
      const id = await c.createVm();
      const first = await backup(c.node1, id);
      await c.node1.destroyReferencePoint(first.reference);
      const second = await backup(c.node1, id, first.reference);
      expect(second.changes[0]).to.include({ kind: 'All', reason: 'TrackingLost' });
    });

    it('has no change tracking on a 2012 R2 host', async () => {
      await c.sim.createHost({ name: 'hv-old', recoverySnapshots: false });
      const old = new FileHost({ root: c.root, node: 'hv-old' });
      const id = await c.createVm({ owner: 'hv-old', storage: `${c.root}/hosts/hv-old/local` });
      const first = await backup(old, id);
      const second = await backup(old, id, first.reference);
      expect(second.changes[0]).to.include({ kind: 'All', reason: 'Unsupported' });
    });
  });

  describe('ownership and migration', () => {
    it('lets only one of two concurrent migrations win', async () => {
      await c.sim.createHost({ name: 'hv-node-3', cluster: 'hvclu01' });
      const id = await c.createVm();
      const results = await Promise.allSettled([
        c.node1.liveMigrate(id, 'hv-node-2'),
        c.node1.liveMigrate(id, 'hv-node-3'),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
      const lost = results.find((r) => r.status === 'rejected');
      expect((lost?.reason as HypervisorError).code).to.equal('NotOwner');
      const owners = await Promise.all(
        ['hv-node-2', 'hv-node-3'].map((n) => new FileHost({ root: c.root, node: n }).getVm(id)),
      );
      expect(owners.filter((o) => o !== undefined)).to.have.length(1);
    });

    it('lets only one of two host processes that both think they own a VM migrate it', async () => {
      await c.sim.createHost({ name: 'hv-node-3', cluster: 'hvclu01' });
      const id = await c.createVm();
      const module = new URL('../../../controller/hypervisor/filehost/filehost.js', import.meta.url).href;
      const migrate = (target: string) =>
        execa(
          process.execPath,
          [
            '--input-type=module',
            '-e',
            `const { FileHost } = await import(${JSON.stringify(module)}); await new FileHost({ root: process.argv[1], node: 'hv-node-1' }).liveMigrate(process.argv[2], process.argv[3]);`,
            c.root,
            id,
            target,
          ],
          { reject: false },
        );
      const results = await Promise.all([migrate('hv-node-2'), migrate('hv-node-3')]);
      expect(results.map((r) => r.exitCode).sort()).to.deep.equal([0, 1]);
      expect(results.find((r) => r.exitCode === 1)?.stderr).to.contain('runs on hv-node-');
    });

    it('refuses to act on a VM another node owns', async () => {
      const id = await c.createVm();
      expect((await failure(c.node2.createSnapshot(id, { mode: 'Online', label: 'x' }))).code).to.equal(
        'NotOwner',
      );
      expect((await failure(c.node2.startVm(id))).code).to.equal('NotOwner');
    });

    it('does not live-migrate a VM whose disks are local to its node', async () => {
      const id = await c.createVm({ storage: `${c.root}/hosts/hv-node-1/local` });
      const err = await failure(c.node1.liveMigrate(id, 'hv-node-2'));
      expect(err.message).to.match(/not a role of a cluster|local storage/);
    });
  });

  describe('faults', () => {
    it('fails an online snapshot transiently when a guest VSS writer times out', async () => {
      const id = await c.createVm();
      await c.sim.setFaults(id, { vssWriterTimeout: true });
      const err = await failure(c.node1.createSnapshot(id, { mode: 'Online', label: 'rp' }));
      expect(err).to.include({ code: 'GuestNotConsistent', transient: true });
      expect(err.message).to.contain('0x800423F2');
    });

    it('makes a backup wait while a merge is in progress', async () => {
      const id = await c.createVm();
      await c.sim.setFaults(id, { mergeInProgress: true });
      expect((await c.node1.getVm(id))?.busy).to.deep.equal(['MergingDisks']);
      expect(await failure(c.node1.createSnapshot(id, { mode: 'Online', label: 'rp' }))).to.include({
        code: 'Busy',
        transient: true,
      });
    });

    it('leaves no checkpoint behind when the host fails to create one', async () => {
      const id = await c.createVm();
      await c.sim.setFaults(id, { snapshotFailure: true });
      expect((await failure(c.node1.createSnapshot(id, { mode: 'SavedState', label: 'rp' }))).code).to.equal(
        'SnapshotFailed',
      );
      expect(await c.node1.listRecoverySnapshots()).to.deep.equal([]);
      expect((await c.node1.getVm(id))?.state).to.equal('Running');
    });
  });

  describe('stale checkpoints', () => {
    it('finds the checkpoints a crashed agent left and removes them with their files', async () => {
      const id = await c.createVm();
      const snapshot = await c.node1.createSnapshot(id, { mode: 'Online', label: 'rp-crashed' });
      const restarted = new FileHost({ root: c.root, node: 'hv-node-1' });
      const stale = await restarted.listRecoverySnapshots();
      expect(stale.map((s) => [s.vmName, s.label, s.snapshotId])).to.deep.equal([
        ['sql01', 'rp-crashed', snapshot.snapshotId],
      ]);
      expect(await restarted.releaseSnapshot(stale[0]!, { keepAsReference: false })).to.equal(undefined);
      expect(await restarted.listRecoverySnapshots()).to.deep.equal([]);
      expect(await exists(snapshot.disks[0]!.snapshotPath)).to.be.false;
    });
  });

  describe('restore', () => {
    const stateFilesOf = (snapshot: Snapshot): Promise<{ kind: StateFileKind; data: Buffer }[]> =>
      Promise.all(snapshot.stateFiles.map(async (f) => ({ kind: f.kind, data: await readFile(f.path) })));

    /** What a backup keeps of a VM now, staged for a copy in `vmPath` as the agent stages a restore. */
    async function stagedCopy(vmId: string, vmPath: string) {
      const snapshot = await c.node1.createSnapshot(vmId, { mode: 'Online', label: 'rp' });
      const staging = `${vmPath}/Staging`;
      await mkdir(staging, { recursive: true });
      await copyFile(snapshot.disks[0]!.snapshotPath, `${staging}/disk0.vhdx`);
      const copy = {
        configuration: await readFile(snapshot.configurationPath),
        stateFiles: await stateFilesOf(snapshot),
        configurationName: 'vm.json',
        vmPath,
        disks: [{ ...snapshot.disks[0]!, path: `${staging}/disk0.vhdx` }],
      };
      await c.node1.releaseSnapshot(snapshot, { keepAsReference: false });
      return copy;
    }

    it('imports a VM from a snapshot configuration as a new VM in its own folder and sees it boot', async () => {
      const id = await c.createVm();
      await c.sim.guestWrite(id, 5 * mib, Buffer.alloc(4096, 9));
      const { vm: restored } = await c.node1.importVm({
        ...(await stagedCopy(id, `${c.root}/csv/Volume1/restored`)),
        identity: 'New',
        newName: 'sql01 (restored "test"; $(x))',
      });
      expect(restored.id).to.not.equal(id);
      expect(restored).to.include({ name: 'sql01 (restored "test"; $(x))', state: 'Off' });
      const moved = `${c.root}/csv/Volume1/restored/Virtual Hard Disks/disk0.vhdx`;
      expect(restored.disks.map((d) => d.path)).to.deep.equal([moved]);
      await c.node1.startVm(restored.id);
      expect(await c.node1.bootCheck(restored.id, 2_000)).to.include({
        booted: true,
        heartbeat: 'OkApplicationsHealthy',
      });
      const raw = await c.readDisk(moved);
      expect(raw.subarray(5 * mib, 5 * mib + 4096).equals(Buffer.alloc(4096, 9))).to.be.true;
    });

    it('refuses a configuration that is not a simulated VM', async () => {
      const err = await failure(
        c.node1.importVm({
          configuration: Buffer.from('<xml/>'),
          configurationName: 'vm.json',
          vmPath: `${c.root}/csv/Volume1/x`,
          disks: [],
          identity: 'New',
        }),
      );
      expect(err.message).to.contain('not a filehost VM configuration');
    });

    it('reports a restored VM that never boots', async () => {
      const id = await c.createVm({ guest: { bootable: false } });
      expect(await c.node1.bootCheck(id, 150)).to.include({ booted: false, heartbeat: 'NoContact' });
    });

    it('starts a VM whose boot disk holds no file system, but its guest never answers, like a firmware finding nothing to boot', async () => {
      const id = await c.createVm({
        running: false,
        disks: [
          { kind: 'Blank', sizeBytes: 16 * mib },
          { kind: 'Ntfs', sizeBytes: 16 * mib },
        ],
      });
      await c.node1.startVm(id);
      expect(await c.node1.bootCheck(id, 150)).to.include({ booted: false, heartbeat: 'NoContact' });
      expect((await c.sim.vm(id)).bootFailure).to.contain(
        'no operating system found on the boot disk SCSI 0:0',
      );
    });

    it('boots a generation 1 VM from its IDE disk, whatever its SCSI disks hold', async () => {
      const id = await c.createVm({
        running: false,
        generation: 1,
        disks: [
          { kind: 'Ntfs', sizeBytes: 16 * mib },
          { kind: 'Blank', sizeBytes: 16 * mib },
        ],
      });
      await c.node1.startVm(id);
      expect(await c.node1.bootCheck(id, 2_000)).to.include({
        booted: true,
        heartbeat: 'OkApplicationsHealthy',
      });
    });

    it('imports a test VM onto an isolated switch and says so', async () => {
      const id = await c.createVm();
      const { vm, adjustments } = await c.node1.importVm({
        ...(await stagedCopy(id, `${c.root}/csv/Volume1/boot-test`)),
        identity: 'New',
        isolatedSwitch: 'Shadowkeep Isolated',
      });
      expect(adjustments).to.deep.equal([
        'network adapters connected to the private switch Shadowkeep Isolated only',
      ]);
      expect((await c.sim.vm(vm.id)).isolatedSwitch).to.equal('Shadowkeep Isolated');
    });

    it('brings a generation 2 VM back with its guest state, and refuses one without it', async () => {
      const id = await c.createVm();
      const original = await readFile(c.sim.layout.guestStateFile(id));
      const copy = await stagedCopy(id, `${c.root}/csv/Volume1/with-state`);
      expect(copy.stateFiles.map((f) => f.kind)).to.deep.equal(['GuestState']);
      const err = await failure(c.node1.importVm({ ...copy, stateFiles: [], identity: 'New' }));
      expect(err.message).to.contain('without its guest state file (.vmgs)');
      const { vm } = await c.node1.importVm({ ...copy, identity: 'New' });
      expect((await readFile(c.sim.layout.guestStateFile(vm.id))).equals(original)).to.be.true;
    });

    it('never finds a boot entry in a generation 2 VM whose guest state is gone', async () => {
      const id = await c.createVm({ running: false });
      await rm(c.sim.layout.guestStateFile(id));
      await c.node1.startVm(id);
      expect(await c.node1.bootCheck(id, 150)).to.include({ booted: false, heartbeat: 'NoContact' });
      expect((await c.sim.vm(id)).bootFailure).to.contain('guest state file (.vmgs) is missing');
    });

    it('imports with the same id only after the original is unregistered', async () => {
      const id = await c.createVm({ running: false });
      const snapshot = await c.node1.createSnapshot(id, { mode: 'SavedState', label: 'rp' });
      const request = {
        configuration: await readFile(snapshot.configurationPath),
        stateFiles: await stateFilesOf(snapshot),
        configurationName: 'vm.json',
        vmPath: `${c.root}/csv/Volume1`,
        disks: [{ ...snapshot.disks[0]!, path: snapshot.disks[0]!.snapshotPath }],
        identity: 'Same' as const,
      };
      expect((await failure(c.node1.importVm(request))).code).to.equal('InvalidState');
      const keep = `${c.root}/csv/Volume1/keep.vhdx`;
      await copyFile(snapshot.disks[0]!.snapshotPath, keep);
      await c.node1.releaseSnapshot(snapshot, { keepAsReference: false });
      await c.node1.unregisterVm(id);
      const { vm: restored } = await c.node1.importVm({
        ...request,
        disks: [{ ...snapshot.disks[0]!, path: keep }],
      });
      expect(restored.id).to.equal(id);
      expect(restored.disks.map((d) => d.path)).to.deep.equal([keep]);
    });

    it('does not shut down a guest that does not answer unless forced', async () => {
      const id = await c.createVm({ guest: { bootable: false } });
      expect((await failure(c.node1.stopVm(id))).code).to.equal('InvalidState');
      await c.node1.stopVm(id, { force: true });
      expect((await c.node1.getVm(id))?.state).to.equal('Off');
    });
  });
});
