/**
 * The estate a chaos or storage-fault run protects, on the real control plane: a namespace with a
 * primary and an offsite Filesystem repository, a simulated Hyper-V cluster (filehost) with VMs on
 * Cluster Shared Volumes, a policy (by default `* * * * *`), and the Shadowkeep processes (controller replicas
 * with leader election, one agent per host) started from bin/shadowkeep.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { BackupRepository, VirtualMachineProtection } from '../../../../controller/api/index.js';
import { SimCluster } from '../../../../controller/hypervisor/filehost/sim.js';
import { KubeRest } from '../../../../controller/kube/rest.js';
import { clientsFor, type Clients } from '../../../../controller/manager/world.js';
import { createNamespace, deleteNamespace } from '../../../support/kube.js';
import { ShadowkeepProcess } from './processes.js';

const MiB = 1024 * 1024;

export interface EstateOptions {
  vms: number;
  hosts: number;
  controllers: number;
  diskBytes: number;
  /** Where the primary repository lives (a fresh temporary folder when unset). */
  primaryDir?: string;
  /** With an offsite Filesystem repository the policy copies every point to. */
  offsite: boolean;
  /** The policy's cron schedule; `* * * * *` (a point per VM per minute) when unset. */
  schedule?: string;
  /**
   * The primary repository on other storage than a folder (an object store), with the Secret its
   * spec names for credentials.
   */
  primaryStorage?: {
    spec: Omit<BackupRepository['spec'], 'encryptionKeySecret'>;
    credentials: { name: string; data: Record<string, string> };
  };
}

export interface Estate {
  namespace: string;
  work: string;
  nodes: string[];
  vms: { name: string; id: string; disk: string }[];
  sim: SimCluster;
  simRoot: string;
  primaryDir: string;
  offsiteDir: string | undefined;
  /** Key files holding each repository's Secret password, for `repo check` and restores. */
  primaryKeyFile: string;
  offsiteKeyFile: string;
  rest: KubeRest;
  clients: Clients;
  controllers: ShadowkeepProcess[];
  agents: ShadowkeepProcess[];
  logs: string;
  /** The pid of the replica holding the leader Lease (its identity is `<hostname>-<pid>`). */
  leaderPid(): Promise<number | undefined>;
  setPolicySuspended(suspend: boolean): Promise<void>;
  stop(): Promise<void>;
}

export const policyName = 'chaos';

async function createSecret(
  rest: KubeRest,
  namespace: string,
  name: string,
  stringData: Record<string, string>,
): Promise<void> {
  await rest.request('POST', `/api/v1/namespaces/${namespace}/secrets`, {
    body: { apiVersion: 'v1', kind: 'Secret', metadata: { name }, stringData },
  });
}

export async function startEstate(options: EstateOptions): Promise<Estate> {
  const id = randomBytes(3).toString('hex');
  const namespace = await createNamespace('sk-chaos');
  const work = await mkdtemp(path.join(tmpdir(), 'sk-chaos-'));
  const simRoot = path.join(work, 'sim');
  const primaryDir = options.primaryDir ?? path.join(work, 'primary');
  const offsiteDir = options.offsite ? path.join(work, 'offsite') : undefined;
  const logs = path.join(work, 'logs');
  await mkdir(logs, { recursive: true });
  const config = new KubeConfig();
  config.loadFromDefault();
  const rest = new KubeRest(config);
  const clients = clientsFor(rest);

  const primaryPassword = `chaos-primary-${randomBytes(12).toString('hex')}`;
  const offsitePassword = `chaos-offsite-${randomBytes(12).toString('hex')}`;
  const primaryKeyFile = path.join(work, 'primary.key');
  const offsiteKeyFile = path.join(work, 'offsite.key');
  // The controller unwraps a repository's key with the Secret's password bytes as they are.
  await writeFile(primaryKeyFile, primaryPassword, { mode: 0o600 });
  await writeFile(offsiteKeyFile, offsitePassword, { mode: 0o600 });
  await createSecret(rest, namespace, 'primary-key', { password: primaryPassword });
  await createSecret(rest, namespace, 'offsite-key', { password: offsitePassword });
  if (options.primaryStorage) {
    const { name, data } = options.primaryStorage.credentials;
    await createSecret(rest, namespace, name, data);
  }
  await clients.repositories.create({
    apiVersion: 'shadowkeep.io/v1alpha1',
    kind: 'BackupRepository',
    metadata: { name: 'primary', namespace },
    spec: {
      ...(options.primaryStorage?.spec ?? { type: 'Filesystem', filesystem: { path: primaryDir } }),
      encryptionKeySecret: 'primary-key',
    },
  });
  if (offsiteDir) {
    await clients.repositories.create({
      apiVersion: 'shadowkeep.io/v1alpha1',
      kind: 'BackupRepository',
      metadata: { name: 'offsite', namespace },
      spec: { type: 'Filesystem', filesystem: { path: offsiteDir }, encryptionKeySecret: 'offsite-key' },
    });
  }

  const sim = new SimCluster(simRoot);
  const nodes = Array.from({ length: options.hosts }, (_, i) => `hv-${id}-${i + 1}`);
  for (const node of nodes) {
    await sim.createHost({ name: node, cluster: `chaos-${id}` });
  }
  const vms: Estate['vms'] = [];
  for (let i = 0; i < options.vms; i++) {
    const name = `vm${String(i + 1).padStart(2, '0')}-${id}`;
    const created = await sim.createVm({
      name,
      owner: nodes[i % nodes.length]!,
      storage: sim.layout.csvVolume(`Volume${(i % 3) + 1}`),
      disks: [{ kind: 'Blank', sizeBytes: options.diskBytes }],
      running: true,
    });
    await sim.guestWrite(created.id, 0, randomBytes(Math.min(options.diskBytes / 4, 4 * MiB)));
    vms.push({ name, id: created.id, disk: created.disks[0]!.path! });
  }

  const env = { ...process.env, SHADOWKEEP_SIM_ROOT: simRoot };
  const controllers = Array.from(
    { length: options.controllers },
    (_, i) =>
      new ShadowkeepProcess(
        `controller-${i + 1}`,
        // Copies limited to 1 MiB/s each last seconds, so a leader killed at a random moment often
        // kills a copy midway.
        ['controller', '--namespace', namespace, '--metrics-port', '0', '--copy-bandwidth-mib', '1'],
        path.join(logs, `controller-${i + 1}.log`),
        env,
      ),
  );
  const agents = nodes.map(
    (node) =>
      new ShadowkeepProcess(
        `agent-${node}`,
        ['agent', '--node', node, '--hypervisor', 'filehost', '--inventory-interval', '2'],
        path.join(logs, `agent-${node}.log`),
        env,
      ),
  );
  for (const p of [...controllers, ...agents]) {
    p.start();
  }

  const policy: VirtualMachineProtection = {
    apiVersion: 'shadowkeep.io/v1alpha1',
    kind: 'VirtualMachineProtection',
    metadata: { name: policyName, namespace },
    spec: {
      selector: { namePatterns: [`*-${id}`], hosts: nodes },
      schedule: { cron: options.schedule ?? '* * * * *' },
      repository: 'primary',
      // Every point stays for the whole run, so each one's data can be checked at the end.
      retention: { keepLast: 1000 },
      concurrency: { perHost: 4, perVolume: 4 },
      ...(offsiteDir ? { offsite: [{ repository: 'offsite', retention: { keepLast: 1000 } }] } : {}),
    },
  };
  await clients.protections.create(policy);

  return {
    namespace,
    work,
    nodes,
    vms,
    sim,
    simRoot,
    primaryDir,
    offsiteDir,
    primaryKeyFile,
    offsiteKeyFile,
    rest,
    clients,
    controllers,
    agents,
    logs,
    async leaderPid() {
      const lease = await rest.request<{ spec: { holderIdentity?: string } }>(
        'GET',
        `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/shadowkeep-controller`,
      );
      const match = /-(\d+)$/.exec(lease.spec.holderIdentity ?? '');
      return match ? Number(match[1]) : undefined;
    },
    async setPolicySuspended(suspend: boolean) {
      await clients.protections.mergePatch(policyName, namespace, { spec: { suspend } });
    },
    async stop() {
      await Promise.all([...controllers, ...agents].map((p) => p.kill9()));
      for (const node of nodes) {
        await clients.hosts.delete(node).catch(() => undefined);
      }
      const { items } = await clients.vms.list();
      for (const vm of items.filter((v) => nodes.includes(v.status?.host ?? ''))) {
        await clients.vms.delete(vm.metadata.name).catch(() => undefined);
      }
      // Recovery points keep a finalizer only their controller removes; none runs any more.
      const { items: points } = await clients.recoveryPoints.list(namespace);
      for (const rp of points) {
        await clients.recoveryPoints
          .mergePatch(rp.metadata.name, namespace, { metadata: { finalizers: null } })
          .catch(() => undefined);
      }
      await deleteNamespace(namespace);
      if (!process.env.SHADOWKEEP_CHAOS_KEEP) {
        await rm(work, { recursive: true, force: true, maxRetries: 5 });
      }
    },
  };
}
