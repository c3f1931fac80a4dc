// What people see of the API through kubectl: explanations, printer columns filled from status,
// the shadowkeep category, kubectl wait, and specs that refuse to change once a backup or restore
// is under way.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import {
  HyperVHostResource,
  HyperVVirtualMachineResource,
  RecoveryPointResource,
  VirtualMachineProtectionResource,
  VirtualMachineRestoreResource,
  BackupRepositoryResource,
} from '../../../controller/api/index.js';
import {
  apply,
  connect,
  kubectl,
  parseTables,
  parseYaml,
  patchStatus,
  refused,
  repoRoot,
  useNamespace,
  type Manifest,
} from '../../support/kube.js';

// kubectl prints ages of ten minutes or more as whole minutes ("30m"), shorter ones with seconds ("2m1s").
const minutesAgo = (minutes: number): string => new Date(Date.now() - minutes * 60_000).toISOString();
const condition = (type: string, status: 'True' | 'False', reason: string, message: string) => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: minutesAgo(5),
});

/** The objects of an examples/ file, moved into `namespace`. */
async function example(file: string, namespace: string): Promise<Manifest[]> {
  const docs = parseYaml(await readFile(path.join(repoRoot, 'examples', file), 'utf8'));
  return docs.map((doc) => ({ ...doc, metadata: { ...doc.metadata, namespace } }));
}

describe('kubectl explain', () => {
  const explained: [string, string][] = [
    ['vmp.spec.retention', 'grandfather-father-son'],
    ['vmp.spec.selector.matchLabels', 'kubectl label hvvm'],
    ['vmp.spec.offsite.immutableFor', 'ransomware'],
    ['rp.status.consistency', 'like pulling the power'],
    ['repo.spec.encryptionKeySecret', 'encrypted before it leaves the host'],
    ['vmrestore.spec.target.items.paths', 'resolved inside the recovery point only'],
    ['hvhost.spec.unschedulable', 'maintenance'],
    ['hvvm.status.backup.blockers', 'each with its fix'],
  ];
  for (const [field, phrase] of explained) {
    it(`teaches ${field}`, async () => {
      const { exitCode, stdout, stderr } = await kubectl(['explain', field]);
      expect(exitCode, stderr).to.equal(0);
      // kubectl wraps descriptions; compare with the line breaks folded away.
      expect(stdout.replace(/\s+/g, ' ')).to.include(phrase);
    });
  }
});

describe('kubectl get', () => {
  const namespace = useNamespace('api-kubectl');
  const suffix = randomBytes(3).toString('hex');
  const host = `hv-node-${suffix}`;
  const vmId = `3f2b8c1e-4d5a-4b6c-9e7f-0a1b2c${suffix}`;

  before(async () => {
    for (const file of [
      'repository-primary.yaml',
      'policy-sql-online-only.yaml',
      'recoverypoint-on-demand.yaml',
      'restore-alternate-host.yaml',
    ]) {
      await apply(await example(file, namespace.name));
    }
    await apply([
      { apiVersion: 'shadowkeep.io/v1alpha1', kind: 'HyperVHost', metadata: { name: host }, spec: {} },
      {
        apiVersion: 'shadowkeep.io/v1alpha1',
        kind: 'HyperVVirtualMachine',
        metadata: { name: vmId },
        spec: { id: vmId },
      },
    ]);
    const ns = namespace.name;
    await Promise.all([
      patchStatus(VirtualMachineProtectionResource, 'sql-tier', ns, {
        observedGeneration: 1,
        protectedVMs: 2,
        lastRecoveryPointTime: minutesAgo(30),
        conditions: [
          condition('Ready', 'True', 'Succeeded', 'Protecting 2 VMs.'),
          condition('RPOMet', 'True', 'Succeeded', 'Every VM has a recovery point younger than 8h.'),
        ],
      }),
      patchStatus(RecoveryPointResource, 'sql01-before-patching', ns, {
        phase: 'Completed',
        nodeName: host,
        consistency: 'ApplicationConsistent',
        size: '40.2Gi',
        uploaded: '1.3Gi',
        copies: [{ repository: 'azure-dr', phase: 'Completed' }],
      }),
      patchStatus(BackupRepositoryResource, 'primary', ns, {
        phase: 'Available',
        stored: '1.2Ti',
        storedBytes: 1_319_413_953_331,
        lastCheckTime: minutesAgo(20),
      }),
      patchStatus(VirtualMachineRestoreResource, 'sql01-copy-on-hv-node-3', ns, {
        phase: 'Restoring',
        nodeName: 'hv-node-3',
        progress: { percent: 42 },
      }),
      patchStatus(HyperVHostResource, host, ns, {
        clusterName: 'hvclu01',
        osVersion: 'Windows Server 2022 (10.0.20348)',
        virtualMachines: 12,
        runningJobs: 1,
        heartbeatTime: minutesAgo(0),
        conditions: [condition('Ready', 'True', 'Succeeded', 'The agent reports every 30s.')],
      }),
      patchStatus(HyperVVirtualMachineResource, vmId, ns, {
        vmName: 'sql01',
        host,
        state: 'Running',
        backup: { mode: 'Online' },
        protectedBy: [{ namespace: ns, name: 'sql-tier' }],
        lastRecoveryPoint: { namespace: ns, name: 'sql01-before-patching', time: minutesAgo(30) },
      }),
    ]);
  });

  after(async () => {
    const { custom } = connect();
    for (const [resource, name] of [
      [HyperVHostResource, host],
      [HyperVVirtualMachineResource, vmId],
    ] as const) {
      await custom.deleteClusterCustomObject({
        group: resource.group,
        version: resource.version,
        plural: resource.plural,
        name,
      });
    }
  });

  it('answers the first question about every kind in its columns', async () => {
    const { exitCode, stdout, stderr } = await kubectl([
      'get',
      'vmp,rp,repo,vmrestore,hvhost,hvvm',
      '-n',
      namespace.name,
    ]);
    expect(exitCode, stderr).to.equal(0);
    const rows = parseTables(stdout).flat();
    const row = (name: string) => {
      const found = rows.find((r) => r.NAME?.endsWith(`/${name}`));
      expect(found, `a row for ${name} in:\n${stdout}`).to.not.equal(undefined);
      return found!;
    };

    expect(row('sql-tier')).to.include({
      REPOSITORY: 'primary',
      SCHEDULE: '0 */4 * * *',
      VMS: '2',
      READY: 'True',
      'RPO-MET': 'True',
      LAST: '30m',
    });
    expect(row('sql01-before-patching')).to.include({
      VM: 'sql01',
      HOST: host,
      CONSISTENCY: 'ApplicationConsistent',
      PHASE: 'Completed',
      SIZE: '40.2Gi',
      NEW: '1.3Gi',
      OFFSITE: 'Completed',
    });
    expect(row('primary')).to.include({
      TYPE: 'Filesystem',
      PHASE: 'Available',
      STORED: '1.2Ti',
      'LAST-CHECK': '20m',
    });
    expect(row('sql01-copy-on-hv-node-3')).to.include({
      'RECOVERY-POINT': 'sql01-before-patching',
      TARGET: 'AlternateHost',
      HOST: 'hv-node-3',
      PHASE: 'Restoring',
      PROGRESS: '42',
    });
    expect(row(host)).to.include({
      CLUSTER: 'hvclu01',
      OS: 'Windows Server 2022 (10.0.20348)',
      VMS: '12',
      JOBS: '1',
      READY: 'True',
    });
    expect(row(vmId)).to.include({
      VM: 'sql01',
      HOST: host,
      STATE: 'Running',
      BACKUP: 'Online',
      'PROTECTED-BY': 'sql-tier',
      LAST: '30m',
    });
  });

  it('lists every kind under the shadowkeep category', async () => {
    const { exitCode, stdout, stderr } = await kubectl([
      'get',
      'shadowkeep',
      '-n',
      namespace.name,
      '-o',
      'name',
    ]);
    expect(exitCode, stderr).to.equal(0);
    // Cluster-scoped inventory shows up too (every suite's), so look for ours among them.
    expect(stdout.split('\n')).to.include.members([
      `hypervhost.shadowkeep.io/${host}`,
      `hypervvirtualmachine.shadowkeep.io/${vmId}`,
      'backuprepository.shadowkeep.io/primary',
      'recoverypoint.shadowkeep.io/sql01-before-patching',
      'virtualmachineprotection.shadowkeep.io/sql-tier',
      'virtualmachinerestore.shadowkeep.io/sql01-copy-on-hv-node-3',
    ]);
  });

  it('lets kubectl wait for a Ready condition', async () => {
    const { exitCode, stderr } = await kubectl([
      'wait',
      '--for=condition=Ready',
      '--timeout=10s',
      '-n',
      namespace.name,
      'vmp/sql-tier',
    ]);
    expect(exitCode, stderr).to.equal(0);
  });

  it("refuses changes to a recovery point's spec but accepts status updates", async () => {
    const [point] = await example('recoverypoint-on-demand.yaml', namespace.name);
    const refusal = await refused(
      apply({ ...point!, spec: { protection: 'sql-tier', vm: { name: 'sql02' } } }),
    );
    expect(refusal.message).to.include(
      "a recovery point's spec cannot change after creation; create a new RecoveryPoint instead",
    );

    await patchStatus(RecoveryPointResource, 'sql01-before-patching', namespace.name, {
      verification: { time: minutesAgo(1), level: 'Checksums', result: 'Passed' },
    });
  });

  it("refuses changes to a restore's spec", async () => {
    const [restore] = await example('restore-alternate-host.yaml', namespace.name);
    const elsewhere = {
      recoveryPoint: 'sql01-before-patching',
      target: { type: 'Disks', nodeName: 'hv-node-3', path: 'D:\\Elsewhere' },
    };
    const refusal = await refused(apply({ ...restore!, spec: elsewhere }));
    expect(refusal.message).to.include(
      "a restore's spec cannot change after creation; create a new VirtualMachineRestore instead",
    );
  });

  it('refuses a new ID for an inventoried VM', async () => {
    const refusal = await refused(
      apply({
        apiVersion: 'shadowkeep.io/v1alpha1',
        kind: 'HyperVVirtualMachine',
        metadata: { name: vmId },
        spec: { id: '00000000-0000-0000-0000-000000000000' },
      }),
    );
    expect(refusal.message).to.include("a VM's ID never changes");
  });
});
