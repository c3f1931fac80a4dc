import { expect } from 'chai';
import { decideBackupMode } from '../../../controller/hypervisor/decision.js';
import { HyperVHost } from '../../../controller/hypervisor/hyperv/hyperv.js';
import {
  encodeCommand,
  execaRunner,
  invokePowerShell,
  wrapScript,
} from '../../../controller/hypervisor/hyperv/powershell.js';
import { scripts } from '../../../controller/hypervisor/hyperv/scripts.js';
import {
  HypervisorError,
  IntegrationServiceId,
  type Snapshot,
} from '../../../controller/hypervisor/types.js';
import { fixtures, replay } from './powershell-replay.js';

const sql01 = '1a2b3c4d-0000-4000-8000-000000000001';
const legacy = '3c4d5e6f-0000-4000-8000-000000000003';

function hostWith(recordings: Record<string, string | string[]>): {
  host: HyperVHost;
  log: ReturnType<typeof replay>;
} {
  const log = replay({ host: 'ps51/host', ...recordings });
  return {
    host: new HyperVHost({ node: 'hv-node-1', runner: log.runner, writeFile: () => Promise.resolve() }),
    log,
  };
}

async function failure(promise: Promise<unknown>): Promise<HypervisorError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'expected a HypervisorError').to.be.instanceOf(HypervisorError);
  return err as HypervisorError;
}

describe('hyperv backend (recorded PowerShell)', () => {
  describe('inventory', () => {
    it('reads VMs as Windows PowerShell 5.1 prints them, keeping only those this node owns', async () => {
      const { host } = hostWith({ vms: 'ps51/vms' });
      const vms = await host.listVms();
      expect(vms.map((v) => v.name)).to.deep.equal(['sql01', 'Büro-Server "alt"; $(x)']);
      const [sql, old] = vms;
      expect(sql).to.deep.include({
        id: sql01,
        state: 'Running',
        generation: 2,
        heartbeat: 'OkApplicationsHealthy',
        ownerNode: 'hv-node-1',
        changeTracking: true,
        snapshotVolume: 'C:\\ClusterStorage\\Volume10',
      });
      expect(sql?.cluster).to.deep.equal({
        clusterName: 'hvclu01',
        ownerNode: 'hv-node-1',
        groupState: 'Online',
      });
      expect(sql?.disks.map((d) => [d.storage, d.volume, d.format])).to.deep.equal([
        ['CSV', 'C:\\ClusterStorage\\Volume10', 'VHDX'],
        ['SMB', '\\\\fs01\\vms', 'VHDX'],
        ['PassThrough', '', 'Physical'],
        ['Shared', 'C:\\ClusterStorage\\Volume1', 'VHDX'],
      ]);
      expect(old).to.deep.include({
        state: 'Off',
        generation: 1,
        checkpointType: 'Standard',
        changeTracking: false,
        busy: ['MergingDisks'],
        userCheckpoints: 2,
      });
      expect(old?.cluster).to.equal(undefined);
    });

    it('matches integration services by id, whatever language the host speaks', async () => {
      const { host } = hostWith({ vms: 'ps51/vms' });
      const [sql] = await host.listVms();
      expect(sql?.integrationServices.find((s) => s.id === IntegrationServiceId.heartbeat)).to.include({
        name: 'Takt',
        enabled: true,
        status: 'Ok',
      });
      // The Backup service is found (no IC_VSS_* blocker); the SMB data disk is what rules out online.
      expect(decideBackupMode(sql!, await host.getHost()).blockers.map((b) => b.code)).to.deep.equal([
        'SNAPSHOT_LOCATION',
      ]);
    });

    it('reads the same inventory from PowerShell 7, with or without implicit remoting', async () => {
      const expected = await hostWith({ vms: 'ps51/vms' }).host.listVms();
      expect(await hostWith({ vms: 'ps7/vms', host: 'ps7/host' }).host.listVms()).to.deep.equal(expected);
      expect(await hostWith({ vms: 'ps7-remoting/vms' }).host.listVms()).to.deep.equal(expected);
    });

    it('reads an empty host in both shapes', async () => {
      expect(await hostWith({ vms: 'ps51/vms-none' }).host.listVms()).to.deep.equal([]);
      expect(await hostWith({ vms: 'ps7/vms-none' }).host.listVms()).to.deep.equal([]);
    });

    it('reports the host with its cluster shared volumes and RCT support', async () => {
      expect(await hostWith({}).host.getHost()).to.deep.equal({
        name: 'hv-node-1',
        osVersion: 'Microsoft Windows Server 2022 Datacenter',
        hypervVersion: '10.0.20348',
        logicalProcessors: 32,
        memoryBytes: 274877906944,
        recoverySnapshots: true,
        cluster: {
          name: 'hvclu01',
          sharedVolumes: ['C:\\ClusterStorage\\Volume1', 'C:\\ClusterStorage\\Volume10'],
        },
      });
    });
  });

  describe('arguments are data', () => {
    it('passes a VM name with quotes, semicolons, $() and backticks to PowerShell as data', async () => {
      const { host, log } = hostWith({ importVm: 'failures/vm-gone/start' });
      const name = 'web "01"; Remove-Item C:\\ -Recurse; $(Stop-Computer) `whoami` — Zürich 日本';
      await failure(
        host.importVm({
          configuration: Buffer.from('vmcx'),
          configurationName: '1A2B3C4D-0000-4000-8000-000000000001.vmcx',
          vmPath: 'D:\\Restore\\sql01',
          identity: 'New',
          newName: name,
          disks: [
            {
              diskId: 'x',
              controllerType: 'SCSI',
              controllerNumber: 0,
              controllerLocation: 0,
              path: 'D:\\Restore\\sql01\\os.vhdx',
            },
          ],
        }),
      );
      const call = log.invocations.find((i) => i.operation === 'importVm')!;
      expect(call.script).to.equal(wrapScript(scripts.importVm));
      expect(call.script).to.not.contain('Zürich').and.not.contain('whoami').and.not.contain('web "01"');
      expect(log.argumentsOf(call)).to.deep.include({ newName: name, newId: true });
    });

    it('sends every operation as its fixed script, whatever the labels, names and paths', async () => {
      const nasty = `it's "x"; $(Stop-Computer) \`whoami\` @{a=1} | Out-File C:\\pwned — ü`;
      const { host, log } = hostWith({
        vms: 'ps51/vm-sql01',
        snapshot: 'ps51/snapshot',
        release: 'ps51/release-deleted',
        moveStorage: 'ps51/done',
        liveMigrate: 'ps51/done',
        importVm: 'failures/vm-gone/start',
      });
      const snapshot = await host.createSnapshot(sql01, { mode: 'Online', label: nasty });
      await host.releaseSnapshot(snapshot, { keepAsReference: false });
      await host.moveStorage(sql01, `D:\\VMs\\${nasty.replace(/[\\|]/g, '')}`);
      await host.liveMigrate(sql01, 'HV-NODE-2');
      await failure(
        host.importVm({
          configuration: Buffer.from('vmcx'),
          configurationName: '1A2B3C4D-0000-4000-8000-000000000001.vmcx',
          vmPath: 'D:\\R',
          identity: 'New',
          newName: nasty,
          disks: [],
        }),
      );
      expect(log.invocations.length).to.be.greaterThan(6);
      for (const call of log.invocations) {
        expect(call.script, call.operation).to.equal(
          wrapScript(scripts[call.operation as keyof typeof scripts]),
        );
        expect(call.script).to.not.contain('Stop-Computer').and.not.contain('whoami');
      }
      const labels = log.invocations
        .filter((i) => i.operation === 'snapshot')
        .map((i) => (log.argumentsOf(i) as { label: string }).label);
      expect(labels).to.deep.equal([nasty]);
    });

    it('runs the same script text for every VM, so no input can change the code', async () => {
      const { host, log } = hostWith({ vms: 'ps51/vms-none' });
      await host.getVm(sql01);
      await host.getVm(legacy);
      const texts = new Set(log.invocations.filter((i) => i.operation === 'vms').map((i) => i.script));
      expect(texts.size).to.equal(1);
    });

    it('refuses ids and paths that are not what they claim before anything runs', async () => {
      const { host, log } = hostWith({});
      expect((await failure(host.startVm("x'; Stop-Computer; '"))).code).to.equal('NotFound');
      expect((await failure(host.moveStorage(sql01, '..\\..\\Windows'))).code).to.equal('InvalidState');
      expect((await failure(host.liveMigrate(sql01, 'node; Stop-Computer'))).code).to.equal('InvalidState');
      expect(log.invocations.filter((i) => i.operation !== 'host')).to.deep.equal([]);
    });

    it('refuses names and paths with bidirectional overrides, C1 controls or line separators', async () => {
      const { host, log } = hostWith({});
      for (const trick of ['\u202egpj.exe', 'a\u2066b', 'x\u0085y', 'line\u2028break']) {
        const named = await failure(
          host.importVm({
            configuration: Buffer.from('vmcx'),
            configurationName: '1A2B3C4D-0000-4000-8000-000000000001.vmcx',
            vmPath: 'D:\\R',
            identity: 'New',
            newName: trick,
            disks: [],
          }),
        );
        expect(named.message).to.contain('is not a usable VM name');
        const moved = await failure(host.moveStorage(sql01, `D:\\VMs\\${trick}`));
        expect(moved.message).to.contain('is not an absolute Windows path');
      }
      expect(log.invocations.filter((i) => i.operation !== 'host')).to.deep.equal([]);
    });

    it('refuses arguments longer than Windows passes in an environment variable, before starting PowerShell', async () => {
      const { host, log } = hostWith({});
      const err = await failure(host.moveStorage(sql01, `D:\\${'deep\\'.repeat(4500)}vm`));
      expect(err.code).to.equal('InvalidState');
      expect(err.message).to.match(/more than Windows passes to a process \(32751\); use shorter paths/);
      expect(log.invocations.filter((i) => i.operation !== 'host')).to.deep.equal([]);
    });

    it('keeps every script within the Windows command-line limit once encoded', () => {
      for (const [operation, body] of Object.entries(scripts)) {
        expect(encodeCommand(wrapScript(body)).length, operation).to.be.below(32_000);
      }
    });
  });

  describe('snapshots', () => {
    const sqlOnly = { vms: 'ps51/vm-sql01' };

    it('takes an application-consistent recovery snapshot and pairs its frozen disks with the VM', async () => {
      const { host, log } = hostWith({ ...sqlOnly, snapshot: 'ps51/snapshot' });
      const snapshot = await host.createSnapshot(sql01, { mode: 'Online', label: 'rp-sql01-1' });
      expect(snapshot).to.deep.include({
        snapshotId: 'Microsoft:5B0B7B5E-6C3D-4F2A-9E11-8D7C6B5A4F30',
        consistency: 'ApplicationConsistent',
        downtimeMs: 0,
      });
      expect(snapshot.pointInTime.toISOString()).to.equal('2025-11-21T23:00:00.000Z');
      expect(snapshot.disks.map((d) => [d.diskId, d.controllerLocation])).to.deep.equal([
        ['7D4C2B1A-1111-4E0F-9A61-0C3B5D1E2F01', 0],
        ['7D4C2B1A-2222-4E0F-9A61-0C3B5D1E2F02', 1],
      ]);
      expect(snapshot.excludedDisks.map((d) => d.reason)).to.have.length(2);
      const stateOf = 'C:\\ClusterStorage\\Volume10\\sql01\\Snapshots\\5B0B7B5E-6C3D-4F2A-9E11-8D7C6B5A4F30';
      expect(snapshot.stateFiles).to.deep.equal([
        { kind: 'GuestState', path: `${stateOf}.vmgs` },
        { kind: 'RuntimeState', path: `${stateOf}.vmrs` },
      ]);
      expect(log.argumentsOf(log.invocations.find((i) => i.operation === 'snapshot')!)).to.deep.equal({
        vmId: sql01,
        method: 'Recovery',
        consistency: 'Application',
        save: false,
        label: 'rp-sql01-1',
      });
    });

    it('reads the point in time as PowerShell 7 prints it, and output without state files as none', async () => {
      const { host } = hostWith({ ...sqlOnly, snapshot: 'ps7/snapshot' });
      const snapshot = await host.createSnapshot(sql01, { mode: 'Online', label: 'rp' });
      expect(snapshot.pointInTime.toISOString()).to.equal('2025-11-21T23:00:00.000Z');
      expect(snapshot.stateFiles).to.deep.equal([]);
    });

    it('fails rather than degrade when a VSS writer times out and the policy requires application consistency', async () => {
      const { host } = hostWith({ ...sqlOnly, snapshot: 'failures/vss-writer-timeout/snapshot' });
      const err = await failure(host.createSnapshot(sql01, { mode: 'Online', label: 'rp' }));
      expect(err).to.include({ code: 'GuestNotConsistent', transient: true });
      expect(err.message).to.contain('0x800423F2').and.contain('vssadmin list writers');
    });

    it('retries crash-consistent after a VSS failure when the policy allows it, and says so', async () => {
      const { host, log } = hostWith({
        ...sqlOnly,
        snapshot: ['failures/vss-writer-timeout/snapshot', 'ps51/snapshot-crash'],
      });
      const snapshot = await host.createSnapshot(sql01, {
        mode: 'Online',
        allowCrashConsistent: true,
        label: 'rp',
      });
      expect(snapshot.consistency).to.equal('CrashConsistent');
      const levels = log.invocations
        .filter((i) => i.operation === 'snapshot')
        .map((i) => (log.argumentsOf(i) as { consistency: string }).consistency);
      expect(levels).to.deep.equal(['Application', 'Crash']);
    });

    it('names the leftover AutoRecovery.avhdx when a checkpoint cannot start', async () => {
      const { host } = hostWith({ ...sqlOnly, snapshot: 'failures/leftover-avhdx/snapshot' });
      const err = await failure(host.createSnapshot(sql01, { mode: 'SavedState', label: 'rp' }));
      expect(err.code).to.equal('SnapshotFailed');
      expect(err.message).to.contain('AutoRecovery.avhdx');
    });

    it('refuses an online snapshot of a VM that is off, without running anything', async () => {
      const { host, log } = hostWith({ vms: 'ps51/vms' });
      expect((await failure(host.createSnapshot(legacy, { mode: 'Online', label: 'rp' }))).code).to.equal(
        'InvalidState',
      );
      expect(log.invocations.some((i) => i.operation === 'snapshot')).to.be.false;
    });
  });

  describe('change tracking and release', () => {
    async function aSnapshot(host: HyperVHost): Promise<Snapshot> {
      return host.createSnapshot(sql01, { mode: 'Online', label: 'rp' });
    }

    it('reports changed ranges from RCT, and a lost baseline as a full read', async () => {
      const { host, log } = hostWith({
        vms: 'ps51/vm-sql01',
        snapshot: 'ps51/snapshot',
        changes: 'ps51/changes',
      });
      const snapshot = await aSnapshot(host);
      const since = {
        id: 'Microsoft:OLD',
        vmId: sql01,
        createdAt: '2026-11-20T00:00:00Z',
        disks: [
          { diskId: '7D4C2B1A-1111-4E0F-9A61-0C3B5D1E2F01', trackingId: 'rctX:1' },
          { diskId: '7D4C2B1A-2222-4E0F-9A61-0C3B5D1E2F02', trackingId: 'rctX:2' },
        ],
      };
      const changes = await host.getChanges(snapshot, since);
      expect(changes).to.deep.equal([
        {
          kind: 'Ranges',
          diskId: '7D4C2B1A-1111-4E0F-9A61-0C3B5D1E2F01',
          ranges: [
            { offset: 1048576, length: 8192 },
            { offset: 4194304, length: 65536 },
          ],
        },
        {
          kind: 'All',
          diskId: '7D4C2B1A-2222-4E0F-9A61-0C3B5D1E2F02',
          reason: 'TrackingLost',
          detail: 'GetVirtualDiskChanges returned 32779',
        },
      ]);
      expect(log.argumentsOf(log.invocations.find((i) => i.operation === 'changes')!)).to.deep.equal({
        disks: [
          { path: 'C:\\ClusterStorage\\Volume10\\sql01\\os.vhdx', rctId: 'rctX:1' },
          { path: '\\\\fs01\\vms\\sql01\\data.vhdx', rctId: 'rctX:2' },
        ],
      });
    });

    it('reads everything without a reference point, and asks the host nothing', async () => {
      const { host, log } = hostWith({ vms: 'ps51/vm-sql01', snapshot: 'ps51/snapshot' });
      const changes = await host.getChanges(await aSnapshot(host), undefined);
      expect(changes.map((c) => c.kind === 'All' && c.reason)).to.deep.equal(['NoReference', 'NoReference']);
      expect(log.invocations.some((i) => i.operation === 'changes')).to.be.false;
    });

    it('converts the snapshot into a reference point, pairing disks by identifier, not position', async () => {
      const { host } = hostWith({ vms: 'ps51/vm-sql01', snapshot: 'ps51/snapshot', release: 'ps51/release' });
      const reference = await host.releaseSnapshot(await aSnapshot(host), { keepAsReference: true });
      expect(reference).to.deep.equal({
        id: 'Microsoft:9E8D7C6B-5A41-4B3C-8D2E-1F0A9B8C7D6E',
        vmId: sql01,
        createdAt: '2025-11-21T23:01:00.000Z',
        disks: [
          { diskId: '7D4C2B1A-2222-4E0F-9A61-0C3B5D1E2F02', trackingId: 'rctX:7d4c2b1a-2222:00000002' },
          { diskId: '7D4C2B1A-1111-4E0F-9A61-0C3B5D1E2F01', trackingId: 'rctX:7d4c2b1a-1111:00000005' },
        ],
      });
    });

    it('reports a merge that does not finish as busy, to be retried', async () => {
      const { host } = hostWith({ release: 'failures/merge-in-progress/release' });
      expect(
        await failure(
          host.releaseSnapshot(
            { vmId: sql01, snapshotId: 'Microsoft:5B0B7B5E-6C3D-4F2A-9E11-8D7C6B5A4F30' },
            { keepAsReference: false },
          ),
        ),
      ).to.include({ code: 'Busy', transient: true });
    });

    it("explains a reference point conversion blocked by group policy ('Log on as a service')", async () => {
      const { host } = hostWith({ release: 'failures/logon-as-service/release' });
      const err = await failure(
        host.releaseSnapshot(
          { vmId: sql01, snapshotId: 'Microsoft:5B0B7B5E-6C3D-4F2A-9E11-8D7C6B5A4F30' },
          { keepAsReference: true },
        ),
      );
      expect(err.message).to.contain('KB 2779204');
    });

    it('finds recovery snapshots a crashed agent left, in both output shapes', async () => {
      for (const recording of ['ps51/recoverySnapshots', 'ps7/recoverySnapshots']) {
        const [stale] = await hostWith({ recoverySnapshots: recording }).host.listRecoverySnapshots();
        expect(stale).to.deep.include({
          vmId: sql01,
          vmName: 'sql01',
          snapshotId: 'Microsoft:0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9',
        });
        expect(stale?.createdAt.toISOString()).to.equal('2025-11-21T03:00:12.000Z');
      }
    });
  });

  describe('whole-VM restore', () => {
    const vmcx = '1A2B3C4D-0000-4000-8000-000000000001.vmcx';
    const osDisk = {
      diskId: 'a',
      controllerType: 'SCSI' as const,
      controllerNumber: 0,
      controllerLocation: 0,
    };

    function importingHost(recordings: Record<string, string>): {
      host: HyperVHost;
      log: ReturnType<typeof replay>;
      written: Map<string, string>;
    } {
      const log = replay({ host: 'ps51/host', ...recordings });
      const written = new Map<string, string>();
      const host = new HyperVHost({
        node: 'hv-node-1',
        runner: log.runner,
        writeFile: (path, data) => {
          written.set(path, Buffer.from(data).toString());
          return Promise.resolve();
        },
      });
      return { host, log, written };
    }

    it('registers the VM again with its own ID where Hyper-V keeps its configuration', async () => {
      const { host, log, written } = importingHost({ importVm: 'ps51/importVm', vms: 'ps51/vm-sql01' });
      const { vm, adjustments } = await host.importVm({
        configuration: Buffer.from('restored vmcx'),
        stateFiles: [{ kind: 'GuestState', data: Buffer.from('guest state') }],
        configurationName: vmcx,
        vmPath: 'C:\\ClusterStorage\\Volume10\\sql01',
        identity: 'Same',
        disks: [{ ...osDisk, path: 'C:\\ClusterStorage\\Volume10\\sql01\\os.vhdx' }],
      });
      expect(vm).to.include({ id: sql01, name: 'sql01' });
      expect(adjustments).to.deep.equal([]);
      const configuration = `C:\\ClusterStorage\\Volume10\\sql01\\Virtual Machines\\${vmcx}`;
      expect([...written]).to.deep.equal([
        [configuration, 'restored vmcx'],
        [configuration.replace(/\.vmcx$/, '.vmgs'), 'guest state'],
      ]);
      const call = log.invocations.find((i) => i.operation === 'importVm')!;
      expect(log.argumentsOf(call)).to.deep.equal({
        configurationPath: configuration,
        vmPath: 'C:\\ClusterStorage\\Volume10\\sql01',
        newId: false,
        newName: null,
        isolatedSwitch: null,
        disks: [{ slot: 'SCSI:0:0', path: 'C:\\ClusterStorage\\Volume10\\sql01\\os.vhdx' }],
      });
    });

    describe('a boot test on an isolated switch', () => {
      const bootTest = {
        configuration: Buffer.from('restored vmcx'),
        configurationName: vmcx,
        vmPath: 'C:\\ProgramData\\Shadowkeep\\Test Restores\\boot-test-1a2b3c4d',
        identity: 'New' as const,
        newName: 'sql01 (boot test 1a2b3c4d)',
        isolatedSwitch: 'Shadowkeep Isolated',
        disks: [
          {
            ...osDisk,
            path: 'C:\\ProgramData\\Shadowkeep\\Test Restores\\boot-test-1a2b3c4d\\Staging\\os.vhdx',
          },
        ],
      };

      it('connects every adapter to the private switch and says so', async () => {
        const { host, log } = importingHost({ importVm: 'ps51/importVm', vms: 'ps51/vm-sql01' });
        const { adjustments } = await host.importVm(bootTest);
        expect(adjustments).to.deep.equal([
          'network adapters connected to the private switch Shadowkeep Isolated only',
        ]);
        const call = log.invocations.find((i) => i.operation === 'importVm')!;
        expect(log.argumentsOf(call)).to.deep.include({ isolatedSwitch: 'Shadowkeep Isolated', newId: true });
        expect(call.script).to.contain('-SwitchType Private').and.not.contain('Shadowkeep Isolated');
      });

      it('refuses to put the test VM on a switch of that name that reaches a network', async () => {
        const { host } = importingHost({ importVm: 'failures/isolated-switch-external/importVm' });
        const err = await failure(host.importVm(bootTest));
        expect(err.code).to.equal('InvalidState');
        expect(err.message).to.contain('is External, not Private');
      });

      it('refuses a switch name with wildcards before anything runs', async () => {
        const { host, log, written } = importingHost({});
        const err = await failure(host.importVm({ ...bootTest, isolatedSwitch: 'Prod*' }));
        expect(err.message).to.contain('not a usable switch name');
        expect(written.size).to.equal(0);
        expect(log.invocations.filter((i) => i.operation === 'importVm')).to.deep.equal([]);
      });
    });

    it('imports a copy with a new ID from a staging folder and reports the switch it had to disconnect', async () => {
      const { host, log, written } = importingHost({ importVm: 'ps7/importVm-new', vms: 'ps7/vm-restored' });
      const { vm, adjustments } = await host.importVm({
        configuration: Buffer.from('restored vmcx'),
        configurationName: vmcx,
        vmPath: 'D:\\Restores\\sql01-restored\\',
        identity: 'New',
        newName: 'sql01-restored',
        disks: [{ ...osDisk, path: 'D:\\Restores\\sql01-restored\\Staging\\os.vhdx' }],
      });
      expect(vm).to.include({
        id: '7d1e2f30-5a6b-4c7d-8e9f-a0b1c2d3e4f5',
        name: 'sql01-restored',
        state: 'Off',
      });
      expect(vm.disks.map((d) => d.path)).to.include(
        'D:\\Restores\\sql01-restored\\Virtual Hard Disks\\os.vhdx',
      );
      expect(adjustments).to.deep.equal([
        'network adapter disconnected: this host has no virtual switch "External-Prod"; connect it with Connect-VMNetworkAdapter',
      ]);
      expect([...written.keys()]).to.deep.equal([`D:\\Restores\\sql01-restored\\Staging\\${vmcx}`]);
      const call = log.invocations.find((i) => i.operation === 'importVm')!;
      expect(log.argumentsOf(call)).to.deep.include({ newId: true, vmPath: 'D:\\Restores\\sql01-restored' });
    });

    it('passes on what Compare-VM could not resolve, so nothing is half registered', async () => {
      const { host } = importingHost({ importVm: 'failures/import-incompatible/importVm' });
      const err = await failure(
        host.importVm({
          configuration: Buffer.from('x'),
          configurationName: vmcx,
          vmPath: 'D:\\Restores\\sql01',
          identity: 'New',
          disks: [],
        }),
      );
      expect(err.code).to.equal('InvalidState');
      expect(err.message).to.contain('40010').and.contain('processor compatibility');
    });

    it('refuses a configuration file name that is not a Hyper-V one before writing anything', async () => {
      const { host, log, written } = importingHost({});
      const err = await failure(
        host.importVm({
          configuration: Buffer.from('x'),
          configurationName: '..\\..\\Windows\\evil.vmcx',
          vmPath: 'D:\\Restores\\sql01',
          identity: 'New',
          disks: [],
        }),
      );
      expect(err.message).to.contain('<GUID>.vmcx');
      expect(written.size).to.equal(0);
      expect(log.invocations.filter((i) => i.operation === 'importVm')).to.deep.equal([]);
    });
  });

  describe('failures', () => {
    it('explains the implicit-remoting enum cast of PowerShell 7', async () => {
      const err = await failure(hostWith({ vms: 'failures/implicit-remoting-cast/vms' }).host.listVms());
      expect(err.message).to.contain('Windows PowerShell 5.1');
    });

    it('reports a PowerShell that produced no result with what it printed', async () => {
      const err = await failure(hostWith({ host: 'failures/no-hyperv-module/host' }).host.getHost());
      expect(err.code).to.equal('HostError');
      expect(err.message).to.contain("The term 'Get-VMHost' is not recognized");
    });

    it('maps a VM that vanished to NotFound', async () => {
      expect(
        (await failure(hostWith({ start: 'failures/vm-gone/start' }).host.startVm(sql01))).code,
      ).to.equal('NotFound');
    });
  });

  describe('the PowerShell process', function () {
    this.timeout(20_000);
    const fake = `${fixtures}fake-powershell.mjs`;

    it('delivers Unicode and shell metacharacters intact through the environment', async () => {
      const value = { name: 'Zürich "x"; $(rm -rf /) `id` 日本 \u{1F600}', path: '\\\\fs01\\vms\\a b' };
      const result = await invokePowerShell(execaRunner(fake), 'echo', 'Write-Output 1', value, 10_000);
      expect(result).to.deep.equal({ args: value, scriptLength: wrapScript('Write-Output 1').length });
    });

    it('kills a PowerShell that hangs and reports the timeout', async () => {
      process.env.FAKE_POWERSHELL = 'hang';
      const started = Date.now();
      try {
        const err = await failure(invokePowerShell(execaRunner(fake), 'snapshot', '', {}, 500));
        expect(err).to.include({ code: 'Timeout', transient: true });
        expect(Date.now() - started).to.be.below(8_000);
      } finally {
        delete process.env.FAKE_POWERSHELL;
      }
    });
  });
});
