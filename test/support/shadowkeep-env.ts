/**
 * A whole Shadowkeep installation for integration tests, on the real control plane: a namespace
 * with a filesystem BackupRepository and its key Secret, a simulated Hyper-V cluster (filehost)
 * with one agent per node, and a controller manager whose clock the test moves. Node names are
 * unique per environment, since HyperVHost and HyperVVirtualMachine objects are cluster-scoped.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import winston from 'winston';
import { Agent } from '../../controller/agent/agent.js';
import { FileHost } from '../../controller/hypervisor/filehost/filehost.js';
import { SimCluster } from '../../controller/hypervisor/filehost/sim.js';
import { KubeRest } from '../../controller/kube/rest.js';
import { Manager } from '../../controller/manager/manager.js';
import { clientsFor, type Clients } from '../../controller/manager/world.js';
import { ShiftedClock } from '../../controller/runtime/clock.js';
import { createNamespace, deleteNamespace } from './kube.js';

/** Quiet logs in tests unless SHADOWKEEP_TEST_LOGS is set. */
export const testLogger = winston.createLogger({
  level: process.env.SHADOWKEEP_TEST_LOGS ? 'debug' : 'error',
  format: winston.format.json(),
  transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
});

/** The password in every environment's repository key Secret. */
export const REPOSITORY_PASSWORD = 'integration-test-key-0123456789';

export interface Environment {
  namespace: string;
  nodes: string[];
  sim: SimCluster;
  simRoot: string;
  repoDir: string;
  clock: ShiftedClock;
  rest: KubeRest;
  clients: Clients;
  manager: Manager;
  agents: Map<string, Agent>;
  hypervisor(node: string): FileHost;
  /** A filesystem BackupRepository at `path` whose key Secret (named `<name>-key`) holds `password`. */
  addRepository(name: string, path: string, password: string): Promise<void>;
  startAgent(node: string): Promise<Agent>;
  stopAgent(node: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startEnvironment({
  nodes = 2,
  cluster = true,
  logger = testLogger,
}: { nodes?: number; cluster?: boolean; logger?: winston.Logger } = {}): Promise<Environment> {
  const id = randomBytes(3).toString('hex');
  const namespace = await createNamespace('sk');
  const simRoot = await mkdtemp(path.join(tmpdir(), 'sk-sim-'));
  const repoDir = await mkdtemp(path.join(tmpdir(), 'sk-repo-'));
  const config = new KubeConfig();
  config.loadFromDefault();
  const rest = new KubeRest(config);
  const clients = clientsFor(rest);
  const sim = new SimCluster(simRoot);
  const nodeNames = Array.from({ length: nodes }, (_, i) => `hv-${id}-${i + 1}`);
  for (const name of nodeNames) {
    await sim.createHost({ name, ...(cluster ? { cluster: `clu-${id}` } : {}) });
  }
  const addRepository = async (name: string, repositoryPath: string, password: string): Promise<void> => {
    await rest.request('POST', `/api/v1/namespaces/${namespace}/secrets`, {
      body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: `${name}-key` }, stringData: { password } },
    });
    await clients.repositories.create({
      apiVersion: 'shadowkeep.io/v1alpha1',
      kind: 'BackupRepository',
      metadata: { name, namespace },
      spec: { type: 'Filesystem', filesystem: { path: repositoryPath }, encryptionKeySecret: `${name}-key` },
    });
  };
  await addRepository('primary', repoDir, REPOSITORY_PASSWORD);

  const clock = new ShiftedClock();
  const manager = new Manager({
    kubeconfig: config,
    namespace,
    leaderElection: false,
    clock,
    logger,
  });
  await manager.start();
  const agents = new Map<string, Agent>();
  const hypervisor = (node: string): FileHost =>
    new FileHost({ root: simRoot, node, now: () => clock.now() });
  const startAgent = async (node: string): Promise<Agent> => {
    const agent = new Agent({
      rest,
      hypervisor: hypervisor(node),
      backend: 'filehost',
      logger,
      inventoryIntervalMs: 500,
      goneAfterMs: 2000,
      now: () => clock.now(),
    });
    await agent.start();
    agents.set(node, agent);
    return agent;
  };
  const stopAgent = async (node: string): Promise<void> => {
    await agents.get(node)?.stop();
    agents.delete(node);
  };
  for (const node of nodeNames) {
    await startAgent(node);
  }
  return {
    namespace,
    nodes: nodeNames,
    sim,
    simRoot,
    repoDir,
    clock,
    rest,
    clients,
    manager,
    agents,
    hypervisor,
    addRepository,
    startAgent,
    stopAgent,
    async stop() {
      await Promise.all([...agents.keys()].map(stopAgent));
      await manager.stop();
      for (const node of nodeNames) {
        await clients.hosts.delete(node);
      }
      const { items } = await clients.vms.list();
      for (const vm of items.filter((v) => nodeNames.includes(v.status?.host ?? ''))) {
        await clients.vms.delete(vm.metadata.name);
      }
      await deleteNamespace(namespace);
      await rm(simRoot, { recursive: true, force: true, maxRetries: 5 });
      await rm(repoDir, { recursive: true, force: true, maxRetries: 5 });
    },
  };
}
