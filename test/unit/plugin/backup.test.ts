import { expect } from 'chai';
import { UserError } from '../../../controller/cli/command.js';
import {
  findVm,
  onDemandPoint,
  onDemandPointName,
  outcomeLine,
  targetForVm,
  targetsForPolicy,
} from '../../../controller/plugin/backup.js';
import { plainProgress, progressBar, progressLine } from '../../../controller/plugin/wait.js';
import { palette } from '../../../controller/plugin/output.js';
import { aPoint, aPolicy, aVM } from './fixtures.js';

const now = new Date('2026-11-22T00:15:30Z');
const plain = palette(false);

describe('kubectl shadowkeep backup', () => {
  describe('naming an on-demand recovery point', () => {
    it('names it after the VM and the moment it was asked for, in UTC', () => {
      expect(onDemandPointName('sql01', now)).to.equal('sql01-ondemand-20261122-001530');
    });

    it('turns a Hyper-V name with spaces and capitals into a valid object name that stays short enough', () => {
      const name = onDemandPointName(`Finance SQL Server ${'x'.repeat(80)}`, now);
      expect(name).to.match(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(name.length).to.be.at.most(63);
      expect(name).to.match(/-ondemand-20261122-001530$/);
    });
  });

  describe('finding the VM', () => {
    const sql01 = aVM('sql01');
    const web01 = aVM('web01');

    it('finds a VM by its name, ignoring case, or by its Hyper-V ID', () => {
      expect(findVm('SQL01', [sql01, web01])).to.equal(sql01);
      expect(findVm(web01.spec.id, [sql01, web01])).to.equal(web01);
    });

    it('refuses a name the inventory does not know, pointing at kubectl get hvvm', () => {
      expect(() => findVm('ghost', [sql01])).to.throw(UserError, /no VM named 'ghost'.*kubectl get hvvm/);
    });

    it('refuses a name two hosts use, asking for the Hyper-V ID', () => {
      const twin = { ...aVM('sql01-twin', { host: 'hv-node-2' }) };
      twin.status = { ...twin.status, vmName: 'sql01' };
      expect(() => findVm('sql01', [sql01, twin])).to.throw(UserError, /2 VMs are named 'sql01'.*Hyper-V ID/);
    });
  });

  describe('choosing the policy', () => {
    it('backs a VM up under the policy of the namespace that protects it', () => {
      const vm = aVM('sql01', {
        protectedBy: [
          { namespace: 'team-sql', name: 'other' },
          { namespace: 'shadowkeep-system', name: 'sql-tier' },
        ],
      });
      expect(targetForVm(vm, 'shadowkeep-system', ['primary'])).to.deep.equal({
        vmId: vm.metadata.name,
        vmName: 'sql01',
        protection: 'sql-tier',
      });
    });

    it("backs an unprotected VM up into the namespace's only repository", () => {
      expect(targetForVm(aVM('lab01'), 'shadowkeep-system', ['primary'])).to.include({
        repository: 'primary',
      });
    });

    it('asks for --repository when an unprotected VM could go to several repositories', () => {
      expect(() => targetForVm(aVM('lab01'), 'shadowkeep-system', ['primary', 'secondary'])).to.throw(
        UserError,
        /no policy in namespace shadowkeep-system protects lab01.*--repository.*primary, secondary/,
      );
    });

    it('says which namespace protects a VM when it is another one', () => {
      const vm = aVM('sql01', { protectedBy: [{ namespace: 'team-sql', name: 'sql-tier' }] });
      expect(() => targetForVm(vm, 'shadowkeep-system', [])).to.throw(
        UserError,
        /team-sql\/sql-tier; pass -n/,
      );
    });

    it('backs up every VM a policy protects and says why it skips the others', () => {
      const policy = aPolicy('estate', {
        vms: [
          { id: 'A', name: 'sql01', mode: 'Online' },
          { id: 'B', name: 'legacy02', mode: 'SavedState' },
          {
            id: 'C',
            name: 'fs03',
            mode: 'Excluded',
            blockers: [
              { reason: 'ProtectedByAnotherPolicy', message: 'also selected by files, which protects it' },
            ],
          },
          {
            id: 'D',
            name: 'nas',
            mode: 'Unprotectable',
            blockers: [{ reason: 'NoCapturableDisk', message: 'only pass-through disks' }],
          },
        ],
      });
      const { targets, skipped } = targetsForPolicy(policy);
      expect(targets.map((t) => [t.vmName, t.vmId, t.protection])).to.deep.equal([
        ['sql01', 'a', 'estate'],
        ['legacy02', 'b', 'estate'],
      ]);
      expect(skipped).to.deep.equal([
        { vmName: 'fs03', reason: 'Excluded: also selected by files, which protects it' },
        { vmName: 'nas', reason: 'Unprotectable: only pass-through disks' },
      ]);
    });

    it("writes the policy's repository, backup mode and downtime bound into the point, so it describes itself", () => {
      const policy = aPolicy('sql-tier');
      policy.spec = {
        ...policy.spec,
        repository: 'primary',
        backupMode: 'OnlineOrSavedState',
        maxDowntime: '60s',
      };
      const rp = onDemandPoint(
        { vmId: 'abc', vmName: 'sql01', protection: 'sql-tier' },
        'shadowkeep-system',
        now,
        policy,
      );
      expect(rp.metadata).to.deep.equal({
        name: 'sql01-ondemand-20261122-001530',
        namespace: 'shadowkeep-system',
      });
      expect(rp.spec).to.deep.equal({
        protection: 'sql-tier',
        vm: { name: 'sql01', id: 'abc' },
        repository: 'primary',
        requestedMode: 'OnlineOrSavedState',
        maxDowntime: '60s',
      });
    });

    it('writes only the repository for a VM no policy protects', () => {
      const rp = onDemandPoint(
        { vmId: 'abc', vmName: 'lab01', repository: 'primary' },
        'shadowkeep-system',
        now,
      );
      expect(rp.spec).to.deep.equal({ vm: { name: 'lab01', id: 'abc' }, repository: 'primary' });
    });
  });

  describe('showing progress', () => {
    const vm = aVM('sql01');

    it('draws a bar filled to the percentage done', () => {
      expect(progressBar(0, 10)).to.equal('[----------]');
      expect(progressBar(50, 10)).to.equal('[#####-----]');
      expect(progressBar(100, 10)).to.equal('[##########]');
    });

    it('shows phase, percentage and bytes on the terminal line', () => {
      const rp = aPoint('sql01-x', vm, {
        phase: 'Transferring',
        progress: { percent: 42, bytesDone: 42 * 1024 * 1024, bytesTotal: 100 * 1024 * 1024 },
      });
      expect(progressLine('sql01-x', rp, plain)).to.equal(
        `sql01-x  ${progressBar(42)}  42%  Transferring 42Mi/100Mi`,
      );
    });

    it('writes a plain line when the phase changes or progress passes another tenth, and not otherwise', () => {
      const at = (phase: 'Pending' | 'Transferring', percent: number) =>
        aPoint('p', vm, { phase, progress: { percent } });
      expect(plainProgress('p', at('Pending', 0), undefined)).to.equal('p: Pending 0%');
      expect(plainProgress('p', at('Transferring', 3), at('Pending', 0))).to.equal('p: Transferring 3%');
      expect(plainProgress('p', at('Transferring', 8), at('Transferring', 3))).to.equal(undefined);
      expect(plainProgress('p', at('Transferring', 12), at('Transferring', 8))).to.equal(
        'p: Transferring 12%',
      );
    });
  });

  describe('reporting the outcome', () => {
    const vm = aVM('sql01');

    it('tells what a completed point holds and how long it took', () => {
      const rp = aPoint('sql01-x', vm, {
        phase: 'Completed',
        consistency: 'ApplicationConsistent',
        method: 'Incremental',
        size: '5.8Mi',
        uploaded: '1.2Ki',
        nodeName: 'hv-node-2',
        startTime: '2026-11-22T00:15:31Z',
        completionTime: '2026-11-22T00:15:43Z',
      });
      expect(outcomeLine(rp, plain)).to.equal(
        'recoverypoint/sql01-x Completed: ApplicationConsistent, Incremental, size 5.8Mi, uploaded 1.2Ki, on hv-node-2 in 12s',
      );
    });

    it('gives the failure reason and message of a failed point', () => {
      const rp = aPoint('sql01-x', vm, {
        phase: 'Failed',
        failure: {
          reason: 'ApplicationConsistencyImpossible',
          message: 'enable the Backup integration service',
        },
      });
      expect(outcomeLine(rp, plain)).to.equal(
        'recoverypoint/sql01-x Failed: ApplicationConsistencyImpossible: enable the Backup integration service',
      );
    });
  });
});
