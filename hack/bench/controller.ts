/**
 * Controller scale benchmark (`make bench-controller`, through hack/bench/controller.sh): on a real
 * control plane, a controller manager (in this process, with a shifted clock) protects many VMs on
 * many lightweight simulated hosts (HyperVHost objects with a fresh heartbeat, no hypervisor) while
 * fake agents in this process run each assigned recovery point through the writes a real agent
 * makes. Measures the time from a schedule tick to every recovery point created, API writes per
 * recovery point lifecycle (from the API server's own metrics), the controller's memory with many
 * recovery points, and writes while nothing changes. Not a test: it measures.
 *   node --expose-gc dist/hack/bench/controller.js [--vms 2000] [--hosts 100] [--volumes 40]
 *     [--points 10000,20000] [--idle 60] [--results DIR]
 */
import { randomUUID } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { HttpMethod, KubeConfig, RequestContext } from '../../controller/kube/kubeconfig.js';
import { fetch } from 'undici';
import winston from 'winston';
import {
  finalizers,
  labels,
  type RecoveryPoint,
  type RecoveryPointStatus,
} from '../../controller/api/index.js';
import { keyOf } from '../../controller/kube/objects.js';
import { KubeRest } from '../../controller/kube/rest.js';
import { Manager } from '../../controller/manager/manager.js';
import { clientsFor } from '../../controller/manager/world.js';
import { ShiftedClock } from '../../controller/runtime/clock.js';

const { values } = parseArgs({
  options: {
    vms: { type: 'string', default: '2000' },
    hosts: { type: 'string', default: '100' },
    volumes: { type: 'string', default: '40' },
    points: { type: 'string', default: '10000,20000' },
    idle: { type: 'string', default: '60' },
    // Seconds the measured controller process is left quiet (queues empty) before its memory is read.
    settle: { type: 'string', default: '30' },
    results: { type: 'string', default: 'bench/results' },
    // NODE_OPTIONS for the measured controller process, ';' between variants measured one after
    // another on each population, e.g. ";--max-semi-space-size=2" (defaults, then small semi-spaces).
    // Words of the form NAME=value are set in its environment instead, e.g. "MALLOC_ARENA_MAX=2".
    'controller-node-options': { type: 'string', default: '' },
  },
});
const vmCount = Number(values.vms);
const hostCount = Number(values.hosts);
const volumeCount = Number(values.volumes);
const pointTargets = values.points
  .split(',')
  .filter((s) => s.length > 0)
  .map(Number);
const idleSeconds = Number(values.idle);
const settleSeconds = Number(values.settle);

const logger = winston.createLogger({
  level: process.env.SHADOWKEEP_BENCH_LOGS ? 'debug' : 'error',
  format: winston.format.json(),
  transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
});
const say = (msg: string): void => {
  process.stderr.write(`[bench-controller ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` over `items` with at most `n` calls in flight. */
async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await fn(item);
      }
    }),
  );
}

const config = new KubeConfig();
config.loadFromDefault();
const rest = new KubeRest(config);
const clients = clientsFor(rest);

/** apiserver_request_total for write verbs, keyed `verb resource[/subresource]`. */
async function apiWrites(): Promise<Map<string, number>> {
  const server = (config.getCurrentCluster()?.server ?? '').replace(/\/$/, '');
  const ctx = new RequestContext(`${server}/metrics`, HttpMethod.GET);
  await config.applySecurityAuthentication(ctx);
  const dispatcher = ctx.getDispatcher();
  const response = await fetch(ctx.getUrl(), {
    headers: ctx.getHeaders(),
    ...(dispatcher ? { dispatcher } : {}),
  });
  const text = await response.text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) {
      continue;
    }
    const labelText = line.slice(line.indexOf('{') + 1, line.lastIndexOf('}'));
    const value = Number(line.slice(line.lastIndexOf('}') + 1).trim());
    const l = new Map([...labelText.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1] ?? '', m[2] ?? '']));
    const verb = l.get('verb') ?? '';
    if (!['POST', 'PUT', 'PATCH', 'APPLY', 'DELETE', 'DELETECOLLECTION'].includes(verb)) {
      continue;
    }
    const key = `${verb} ${l.get('resource') ?? ''}${l.get('subresource') ? `/${l.get('subresource') ?? ''}` : ''}`;
    out.set(key, (out.get(key) ?? 0) + value);
  }
  return out;
}

function diff(after: Map<string, number>, before: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d > 0) {
      out[k] = d;
    }
  }
  return out;
}

/** Writes the controller can have made (not the control plane's own leases and endpoints). */
const shadowkeepResources = [
  'recoverypoints',
  'hypervvirtualmachines',
  'hypervhosts',
  'virtualmachineprotections',
  'virtualmachinerestores',
  'backuprepositories',
  'events',
  'secrets',
];
const isShadowkeepWrite = (key: string): boolean =>
  shadowkeepResources.includes((key.split(' ')[1] ?? '').split('/')[0] ?? '');

const sum = (o: Record<string, number>, filter: (k: string) => boolean = () => true): number =>
  Object.entries(o)
    .filter(([k]) => filter(k))
    .reduce((s, [, v]) => s + v, 0);

/** A memory variant's words: NAME=value ones go to the environment, the rest to NODE_OPTIONS. */
function variantEnvironment(variant: string): Record<string, string> {
  const words = variant.split(/\s+/).filter((w) => w.length > 0);
  const isVariable = (w: string): boolean => /^[A-Z_][A-Z0-9_]*=/.test(w);
  return {
    NODE_OPTIONS: words.filter((w) => !isVariable(w)).join(' '),
    ...Object.fromEntries(
      words.filter(isVariable).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]),
    ),
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) {
    return NaN;
  }
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** shadowkeep_reconcile_duration_seconds sum and count per controller, from Prometheus text. */
function reconcileTotals(text: string): Record<string, { count: number; seconds: number }> {
  const out: Record<string, { count: number; seconds: number }> = {};
  for (const m of text.matchAll(
    /^shadowkeep_reconcile_duration_seconds_(sum|count)\{controller="([^"]+)"\} (\S+)$/gm,
  )) {
    const entry = (out[m[2] ?? ''] ??= { count: 0, seconds: 0 });
    if (m[1] === 'sum') {
      entry.seconds = Number(m[3]);
    } else {
      entry.count = Number(m[3]);
    }
  }
  return out;
}

/**
 * CPU seconds (user + system) used so far by this process (the controller and the fake agents) and
 * by the control plane's API server and etcd (their pids from the state folder), so that wall times
 * on a shared machine come with the work they took. Linux clock ticks are 1/100 s.
 */
function cpuSeconds(): Record<string, number> {
  const own = process.cpuUsage();
  const out: Record<string, number> = { 'bench (controller + agents)': (own.user + own.system) / 1e6 };
  for (const name of ['kube-apiserver', 'etcd']) {
    try {
      const pid = readFileSync(join(process.env.SHADOWKEEP_CONTROL_PLANE_DIR ?? '', `${name}.pid`), 'utf8');
      out[name] = cpuSecondsOfPid(Number(pid.trim()));
    } catch {
      // Not a local control plane of ours: its CPU is not ours to read.
    }
  }
  return out;
}

const cpuSince = (before: Record<string, number>): Record<string, number> =>
  Object.fromEntries(
    Object.entries(cpuSeconds()).map(([k, v]) => [k, Number((v - (before[k] ?? 0)).toFixed(1))]),
  );

/** utime + stime of a process from /proc/PID/stat (fields 14 and 15, in 1/100 s). */
function cpuSecondsOfPid(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Controller processes this script started: stopped with it, even when it is interrupted. */
const liveChildren = new Set<ChildProcess>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const child of liveChildren) {
      child.kill('SIGKILL');
    }
    process.exit(1);
  });
}

/** Writes this script makes itself, by the same `verb resource` keys as apiWrites. */
const ownWrites = new Map<string, number>();
const countOwn = (key: string, n = 1): void => {
  ownWrites.set(key, (ownWrites.get(key) ?? 0) + n);
};
const snapshotOwn = (): Map<string, number> => new Map(ownWrites);

async function main(): Promise<void> {
  const started = new Date();
  const id = randomUUID().slice(0, 6);
  const namespace = `skbench-${id}`;
  const repoDir = mkdtempSync(join(tmpdir(), 'sk-bench-repo-'));
  const clock = new ShiftedClock();
  const hosts = Array.from({ length: hostCount }, (_, i) => `hv-${id}-${String(i + 1).padStart(3, '0')}`);
  let manager: Manager | undefined;
  const stop = { heartbeats: false as boolean, agents: false as boolean };
  let heartbeatLoop: Promise<void> = Promise.resolve();
  let agentLoop: Promise<void> = Promise.resolve();
  try {
    say(`setup: namespace ${namespace}, ${hostCount} hosts, ${vmCount} VMs on ${volumeCount} volumes`);
    await rest.request('POST', '/api/v1/namespaces', {
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    });
    await rest.request('POST', `/api/v1/namespaces/${namespace}/secrets`, {
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'repo-key' },
        stringData: { password: 'bench-controller-key-0123456789' },
      },
    });
    await clients.repositories.create({
      apiVersion: 'shadowkeep.io/v1alpha1',
      kind: 'BackupRepository',
      metadata: { name: 'primary', namespace },
      spec: { type: 'Filesystem', filesystem: { path: repoDir }, encryptionKeySecret: 'repo-key' },
    });

    const heartbeat = async (host: string): Promise<void> => {
      await clients.hosts.applyStatus(
        host,
        undefined,
        {
          hostName: host,
          backend: 'filehost',
          agentVersion: 'bench',
          capacity: { logicalProcessors: 16, memoryBytes: 68719476736, maxConcurrentJobs: 20 },
          virtualMachines: Math.ceil(vmCount / hostCount),
          runningJobs: 0,
          jobs: [],
          heartbeatTime: clock.now().toISOString(),
          conditions: [
            {
              type: 'Ready',
              status: 'True',
              reason: 'AgentReporting',
              message: 'bench host',
              lastTransitionTime: started.toISOString(),
            },
          ],
        },
        'shadowkeep-agent',
      );
      countOwn('APPLY hypervhosts/status');
    };
    await pool(hosts, 16, async (host) => {
      await clients.hosts.create({
        apiVersion: 'shadowkeep.io/v1alpha1',
        kind: 'HyperVHost',
        metadata: { name: host },
        spec: {},
      });
      await heartbeat(host);
    });
    // Like the agents: a heartbeat per host every 10 s.
    heartbeatLoop = (async () => {
      while (!stop.heartbeats) {
        const begin = Date.now();
        await pool(hosts, 8, heartbeat).catch((err: unknown) => {
          say(`heartbeat failed: ${String(err)}`);
        });
        await sleep(Math.max(0, 10_000 - (Date.now() - begin)));
      }
    })();

    const vms = Array.from({ length: vmCount }, (_, i) => ({
      id: randomUUID(),
      name: `vm-${String(i + 1).padStart(5, '0')}`,
      host: hosts[i % hostCount] ?? '',
      volume: `Volume${(i % volumeCount) + 1}`,
    }));
    const t0 = performance.now();
    await pool(vms, 16, async (vm) => {
      await clients.vms.create({
        apiVersion: 'shadowkeep.io/v1alpha1',
        kind: 'HyperVVirtualMachine',
        metadata: { name: vm.id, labels: { [labels.node]: vm.host } },
        spec: { id: vm.id },
      });
      await clients.vms.applyStatus(
        vm.id,
        undefined,
        {
          vmName: vm.name,
          host: vm.host,
          state: 'Running',
          backup: { mode: 'Online' },
          disks: [
            { controllerLocation: 'SCSI 0:0', path: `/csv/${vm.volume}/${vm.name}.vhdx`, storage: 'CSV' },
          ],
        },
        'shadowkeep-agent',
      );
    });
    say(`created ${vmCount} VMs in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    manager = new Manager({ kubeconfig: config, namespace, leaderElection: false, clock, logger });
    await manager.start();
    await Promise.all(Object.values(manager.informers).map((i) => i.synced));
    const m = manager;

    // Creation times of recovery points as the controller's own cache sees them.
    const seen = new Map<string, number>();
    m.informers.recoveryPoints.onChange((key, rp) => {
      if (rp && !seen.has(key)) {
        seen.set(key, performance.now());
      }
    });

    // Fake agents: Snapshotting, Transferring, one progress update, a reference annotation,
    // Completed — the writes a real agent makes for a small disk.
    let agentInFlight = 0;
    const running = new Set<string>();
    let agentRpWrites = 0;
    const runPoint = async (rp: RecoveryPoint): Promise<void> => {
      const { name, namespace: ns } = rp.metadata;
      const node = rp.status?.nodeName ?? '';
      const state: RecoveryPointStatus = {};
      const write = async (part: RecoveryPointStatus): Promise<void> => {
        Object.assign(state, part);
        await clients.recoveryPoints.applyStatus(name, ns, state, 'shadowkeep-agent');
        agentRpWrites++;
        countOwn('APPLY recoverypoints/status');
      };
      const start = clock.now().toISOString();
      await write({ phase: 'Snapshotting', nodeName: node, vmId: rp.spec.vm.id ?? '', startTime: start });
      await write({ phase: 'Transferring', progress: { bytesDone: 0, bytesTotal: 1 << 30, percent: 0 } });
      await write({ progress: { bytesDone: 1 << 29, bytesTotal: 1 << 30, percent: 50 } });
      await clients.recoveryPoints.mergePatch(name, ns, {
        metadata: { annotations: { 'shadowkeep.io/reference-point': '{"bench":true}' } },
      });
      agentRpWrites++;
      countOwn('PATCH recoverypoints');
      const now = clock.now().toISOString();
      await write({
        phase: 'Completed',
        consistency: 'ApplicationConsistent',
        method: 'Full',
        pointInTime: now,
        completionTime: now,
        downtimeSeconds: 0,
        size: '1 GiB',
        uploaded: '1 GiB',
        disks: [
          {
            controllerLocation: 'SCSI 0:0',
            fileName: 'vm.vhdx',
            virtualSize: 1 << 30,
            allocatedBytes: 1 << 30,
            readBytes: 1 << 30,
            changedBytes: 1 << 30,
            uploadedBytes: 1 << 30,
            manifest: randomUUID().replace(/-/g, ''),
          },
        ],
        progress: { bytesDone: 1 << 30, bytesTotal: 1 << 30, percent: 100 },
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'Completed',
            message: 'ApplicationConsistent full backup: 1 GiB uploaded',
            lastTransitionTime: now,
            observedGeneration: rp.metadata.generation ?? 1,
          },
        ],
      });
    };
    agentLoop = (async () => {
      while (!stop.agents) {
        for (const rp of m.informers.recoveryPoints.list()) {
          const key = keyOf(rp.metadata);
          if (
            agentInFlight >= 64 ||
            running.has(key) ||
            (rp.status?.phase ?? 'Pending') !== 'Pending' ||
            !rp.status?.nodeName ||
            rp.metadata.labels?.[labels.node] !== rp.status.nodeName
          ) {
            continue;
          }
          running.add(key);
          agentInFlight++;
          void runPoint(rp)
            .catch((err: unknown) => {
              say(`fake agent: ${key}: ${String(err)}`);
              running.delete(key);
            })
            .finally(() => {
              agentInFlight--;
            });
        }
        await sleep(100);
      }
    })();

    const policyName = 'bench';
    await clients.protections.create({
      apiVersion: 'shadowkeep.io/v1alpha1',
      kind: 'VirtualMachineProtection',
      metadata: { name: policyName, namespace },
      spec: {
        selector: { namePatterns: ['*'], hosts },
        schedule: { cron: '0 * * * *' },
        backupMode: 'OnlineOrSavedState',
        repository: 'primary',
        retention: { keepLast: 100 },
        concurrency: { perHost: 20, perVolume: 64 },
      },
    });
    // Let the policy settle (status.vms lists every VM) before the tick.
    const settleStart = performance.now();
    for (;;) {
      const p = m.informers.protections.list()[0];
      const listed = p?.status?.vms?.length ?? 0;
      if (listed >= vmCount) {
        break;
      }
      if (performance.now() - settleStart > 300_000) {
        throw new Error(`the policy lists only ${listed} of ${vmCount} VMs after 5 minutes`);
      }
      await sleep(250);
    }
    const firstPoints = m.informers.recoveryPoints.list().length;
    say(
      `policy settled in ${((performance.now() - settleStart) / 1000).toFixed(1)} s (${firstPoints} points before the tick)`,
    );
    await waitQuiet('before the tick');

    // The tick: move the clock past the next hourly slot, refresh heartbeats to the new time.
    const now = clock.now();
    const slot = new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000 + 3_600_000);
    const stamp = slot.toISOString().slice(0, 16).replace(/[-:]/g, '').replace('T', '-');
    clock.set(new Date(slot.getTime() + 60_000));
    await pool(hosts, 16, heartbeat);
    const writesBefore = await apiWrites();
    const ownBefore = snapshotOwn();
    const reconcileBefore = reconcileTotals(await m.metrics.registry.metrics());
    const tick = performance.now();
    const cpuAtTick = cpuSeconds();
    const loadAtTick = loadavg();
    say(`load average at the tick: ${loadAtTick.map((l) => l.toFixed(2)).join(' ')}`);
    let cpuToCreated: Record<string, number> = {};
    let cpuToCompleted: Record<string, number> = {};
    m.resyncAll();
    const isSlotPoint = (key: string): boolean => key.endsWith(`-${stamp}`);
    let createdAll = NaN;
    let completedAll = NaN;
    for (;;) {
      const slotKeys = [...seen.keys()].filter(isSlotPoint);
      if (Number.isNaN(createdAll) && slotKeys.length >= vmCount) {
        createdAll = performance.now() - tick;
        cpuToCreated = cpuSince(cpuAtTick);
        say(`all ${vmCount} recovery points created ${(createdAll / 1000).toFixed(2)} s after the tick`);
      }
      const done = m.informers.recoveryPoints
        .list()
        .filter((rp) => rp.metadata.name.endsWith(`-${stamp}`) && rp.status?.phase === 'Completed').length;
      if (done >= vmCount) {
        completedAll = performance.now() - tick;
        cpuToCompleted = cpuSince(cpuAtTick);
        say(`all completed ${(completedAll / 1000).toFixed(1)} s after the tick`);
        say(`CPU seconds, tick to all created: ${JSON.stringify(cpuToCreated)}`);
        say(`CPU seconds, tick to all completed: ${JSON.stringify(cpuToCompleted)}`);
        break;
      }
      if (performance.now() - tick > 600_000) {
        say(`gave up waiting: ${slotKeys.length} created, ${done} completed after 10 minutes`);
        break;
      }
      await sleep(100);
    }
    const creation = [...seen.entries()]
      .filter(([k]) => isSlotPoint(k))
      .map(([, t]) => (t - tick) / 1000)
      .sort((a, b) => a - b);
    await waitQuiet('after the lifecycle');
    const reconcileAfter = reconcileTotals(await m.metrics.registry.metrics());
    const reconciles = Object.fromEntries(
      Object.entries(reconcileAfter).map(([c, v]) => [
        c,
        {
          count: v.count - (reconcileBefore[c]?.count ?? 0),
          seconds: Number((v.seconds - (reconcileBefore[c]?.seconds ?? 0)).toFixed(2)),
        },
      ]),
    );
    say(`reconciles during the lifecycle: ${JSON.stringify(reconciles)}`);
    const lifecycleWrites = diff(await apiWrites(), writesBefore);
    const lifecycleOwn = diff(snapshotOwn(), ownBefore);
    const controllerWrites: Record<string, number> = {};
    for (const [k, v] of Object.entries(lifecycleWrites)) {
      const rest2 = v - (lifecycleOwn[k] ?? 0);
      if (rest2 > 0 && isShadowkeepWrite(k)) {
        controllerWrites[k] = rest2;
      }
    }
    const points = creation.length;
    const controllerPerPoint = sum(controllerWrites) / points;
    const agentPerPoint = agentRpWrites / points;
    say(
      `writes per recovery point: controller ${controllerPerPoint.toFixed(2)}, fake agent ${agentPerPoint.toFixed(2)}`,
    );

    // Nothing changes: only heartbeats should be written.
    say(`idle for ${idleSeconds} s`);
    const idleBefore = await apiWrites();
    const idleOwnBefore = snapshotOwn();
    await sleep(idleSeconds * 1000);
    const idleAll = diff(await apiWrites(), idleBefore);
    const idleOwn = diff(snapshotOwn(), idleOwnBefore);
    const idleOthers: Record<string, number> = {};
    for (const [k, v] of Object.entries(idleAll)) {
      const rest2 = v - (idleOwn[k] ?? 0);
      if (rest2 > 0) {
        idleOthers[k] = rest2;
      }
    }
    const idleNonLease = sum(idleOthers, isShadowkeepWrite);
    say(`idle writes besides heartbeats: ${JSON.stringify(idleOthers)}`);

    // Memory with many recovery points: the controller as its own process (`shadowkeep
    // controller`), started on each population and read from /proc once it is synced and quiet.
    // The history is completed points, one per VM per hour back from the tick.
    stop.agents = true;
    await agentLoop;
    await manager.stop();
    manager = undefined;
    const memory: {
      heapUsedMiB: number;
      heapTotalMiB: number;
      externalMiB: number;
      drainSeconds: number;
      cpuSeconds: number;
      nodeOptions: string;
      points: number;
      rssMiB: number;
      rssAt5sMiB: number;
      hwmMiB: number;
      syncSeconds: number;
      createSeconds: number;
    }[] = [];
    const nodeOptionVariants = values['controller-node-options'].split(';').map((o) => o.trim());
    const measureChild = async (createSeconds: number, nodeOptions: string): Promise<void> => {
      const port = 20_000 + Math.floor(Math.random() * 20_000);
      const child = spawn(
        resolve('bin/shadowkeep'),
        ['controller', '--namespace', namespace, '--no-leader-elect', '--metrics-port', String(port)],
        {
          stdio: ['ignore', 'ignore', 'inherit'],
          env: {
            ...process.env,
            SHADOWKEEP_LOG_LEVEL: 'error',
            ...variantEnvironment(nodeOptions),
          },
        },
      );
      liveChildren.add(child);
      const exited = new Promise<void>((r) =>
        child.once('exit', () => {
          liveChildren.delete(child);
          r();
        }),
      );
      try {
        const s0 = performance.now();
        for (;;) {
          const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
            (r) => r.ok,
            () => false,
          );
          if (ready) {
            break;
          }
          if (performance.now() - s0 > 180_000 || child.exitCode !== null) {
            throw new Error('the controller process did not become ready');
          }
          await sleep(250);
        }
        const syncSeconds = (performance.now() - s0) / 1000;
        await waitQuiet('controller process start');
        // Idle means its queues are empty too, not only that it stopped writing.
        const metricsOf = (): Promise<string> =>
          fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
        const drainStart = performance.now();
        while (performance.now() - drainStart < 180_000) {
          const depths = [...(await metricsOf()).matchAll(/^shadowkeep_workqueue_depth\{[^}]*\} (\S+)$/gm)];
          if (depths.every((m) => Number(m[1]) === 0)) {
            break;
          }
          await sleep(1000);
        }
        const drainSeconds = (performance.now() - drainStart) / 1000;
        const rssNow = (): number =>
          Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
        await sleep(5000);
        const rssAt5sMiB = rssNow();
        // Steady state: V8 gives back the start's garbage in its idle-time collections.
        await sleep(Math.max(0, settleSeconds - 5) * 1000);
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const kib = (field: string): number =>
          Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
        const { items } = await clients.recoveryPoints.list(namespace);
        const metricsText = await metricsOf();
        const mib = (metric: string): number =>
          Number(new RegExp(`^\\w*${metric} (\\S+)$`, 'm').exec(metricsText)?.[1] ?? NaN) / 2 ** 20;
        const heapUsedMiB = mib('heap_size_used_bytes');
        const heapTotalMiB = mib('heap_size_total_bytes');
        const externalMiB = mib('external_memory_bytes');
        const cpu = cpuSecondsOfPid(child.pid ?? 0);
        memory.push({
          heapUsedMiB,
          heapTotalMiB,
          externalMiB,
          drainSeconds,
          cpuSeconds: cpu,
          nodeOptions,
          points: items.length,
          rssMiB: kib('VmRSS') / 1024,
          rssAt5sMiB,
          hwmMiB: kib('VmHWM') / 1024,
          syncSeconds,
          createSeconds,
        });
        say(
          `${items.length} points: controller RSS ${(kib('VmRSS') / 1024).toFixed(0)} MiB after ${settleSeconds} s quiet, ${rssAt5sMiB.toFixed(0)} MiB after 5 s (peak ${(kib('VmHWM') / 1024).toFixed(0)} MiB, JS heap used ${heapUsedMiB.toFixed(0)} of ${heapTotalMiB.toFixed(0)} MiB, external ${externalMiB.toFixed(0)} MiB; ready in ${syncSeconds.toFixed(1)} s, queues empty ${drainSeconds.toFixed(1)} s later, ${cpu.toFixed(1)} CPU s)`,
        );
      } finally {
        // A controller busy with a large backlog can take minutes to drain on SIGTERM: 10 s, then KILL.
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(killer);
      }
    };
    // A controller that fails to come up is a finding, not a reason to lose the run's figures.
    const memoryErrors: string[] = [];
    const measure = async (createSeconds: number, options: string): Promise<void> => {
      await measureChild(createSeconds, options).catch((err: unknown) => {
        const message = `${options || 'defaults'}: ${err instanceof Error ? err.message : String(err)}`;
        memoryErrors.push(message);
        say(`memory measurement failed: ${message}`);
      });
    };
    for (const options of nodeOptionVariants) {
      await measure(0, options);
    }
    let hoursBack = 1;
    for (const target of pointTargets) {
      const { items: existing } = await clients.recoveryPoints.list(namespace);
      const need = target - existing.length;
      if (need <= 0) {
        continue;
      }
      const work: { vm: (typeof vms)[number]; at: Date }[] = [];
      while (work.length < need) {
        const at = new Date(slot.getTime() - hoursBack * 3_600_000);
        for (const vm of vms) {
          if (work.length < need) {
            work.push({ vm, at });
          }
        }
        hoursBack++;
      }
      const c0 = performance.now();
      say(`creating ${need} completed recovery points (to ${target})`);
      await pool(work, 24, async ({ vm, at }) => {
        const s = at.toISOString().slice(0, 16).replace(/[-:]/g, '').replace('T', '-');
        const name = `${vm.name}-${s}`;
        await clients.recoveryPoints.create({
          apiVersion: 'shadowkeep.io/v1alpha1',
          kind: 'RecoveryPoint',
          metadata: {
            name,
            namespace,
            // As the controller leaves them: its labels, the node that took it, the data finalizer
            // (without it every controller start would first patch all of them).
            labels: {
              [labels.protection]: policyName,
              [labels.vm]: vm.name,
              [labels.vmId]: vm.id,
              [labels.node]: vm.host,
            },
            finalizers: [finalizers.recoveryPointData],
          },
          spec: {
            protection: policyName,
            vm: { name: vm.name, id: vm.id },
            repository: 'primary',
            requestedMode: 'OnlineOrSavedState',
            scheduledTime: at.toISOString(),
          },
        });
        const t = at.toISOString();
        await clients.recoveryPoints.applyStatus(
          name,
          namespace,
          {
            phase: 'Completed',
            nodeName: vm.host,
            vmId: vm.id,
            startTime: t,
            consistency: 'ApplicationConsistent',
            method: 'Incremental',
            pointInTime: t,
            completionTime: t,
            downtimeSeconds: 0,
            size: '1 GiB',
            uploaded: '12 MiB',
            disks: [
              {
                controllerLocation: 'SCSI 0:0',
                fileName: `${vm.name}.vhdx`,
                virtualSize: 1 << 30,
                allocatedBytes: 1 << 30,
                readBytes: 12 << 20,
                changedBytes: 12 << 20,
                uploadedBytes: 12 << 20,
                manifest: randomUUID().replace(/-/g, ''),
              },
            ],
            conditions: [
              {
                type: 'Ready',
                status: 'True',
                reason: 'Completed',
                message: 'ApplicationConsistent incremental backup: 12 MiB uploaded',
                lastTransitionTime: t,
              },
            ],
          },
          'shadowkeep-agent',
        );
      });
      const createSeconds = (performance.now() - c0) / 1000;
      say(`created in ${createSeconds.toFixed(0)} s`);
      for (const options of nodeOptionVariants) {
        await measure(createSeconds, options);
      }
    }
    // The slope and the goal come from the first variant (the defaults, unless told otherwise).
    const baseline = memory.filter((m) => m.nodeOptions === nodeOptionVariants[0]);
    const first = baseline[0];
    const last = baseline[baseline.length - 1];
    const at50k = baseline.find((m) => m.points >= 50_000);
    const slopeKiBPerPoint =
      first && last && last.points > first.points
        ? ((last.rssMiB - first.rssMiB) * 1024) / (last.points - first.points)
        : NaN;
    const extrapolated50k =
      last && !Number.isNaN(slopeKiBPerPoint)
        ? last.rssMiB + ((50_000 - last.points) * slopeKiBPerPoint) / 1024
        : NaN;

    const result = {
      date: started.toISOString(),
      machine: { cpus: availableParallelism(), model: cpus()[0]?.model, memGiB: totalmem() / 2 ** 30 },
      setup: { vms: vmCount, hosts: hostCount, volumes: volumeCount, perHost: 20, perVolume: 64 },
      tick: {
        points,
        p50Seconds: percentile(creation, 50),
        p99Seconds: percentile(creation, 99),
        allCreatedSeconds: createdAll / 1000,
        allCompletedSeconds: completedAll / 1000,
        cpuSecondsToAllCreated: cpuToCreated,
        cpuSecondsToAllCompleted: cpuToCompleted,
        loadAverageAtTick: loadAtTick,
        reconciles,
      },
      writes: {
        perPointController: controllerPerPoint,
        perPointAgent: agentPerPoint,
        perPointTotal: controllerPerPoint + agentPerPoint,
        controllerByResource: controllerWrites,
        ownByResource: lifecycleOwn,
      },
      idle: {
        seconds: idleSeconds,
        nonLeaseWrites: idleNonLease,
        byResource: idleOthers,
        heartbeats: idleOwn,
      },
      memory: {
        samples: memory,
        errors: memoryErrors,
        slopeKiBPerPoint,
        extrapolated50kMiB: extrapolated50k,
      },
    };
    const dir = resolve(values.results);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `controller-${started.toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);

    const row = (a: string, b: string, c: string): string =>
      `| ${a.padEnd(58)} | ${b.padEnd(22)} | ${c.padEnd(12)} |`;
    const ok = (pass: boolean): string => (pass ? 'met' : 'MISSED');
    const lines = [
      row('measure', 'value', 'goal'),
      row('-'.repeat(58), '-'.repeat(22), '-'.repeat(12)),
      row(
        `tick -> recovery point created, p50 / p99 (${points} points)`,
        `${percentile(creation, 50).toFixed(2)} s / ${percentile(creation, 99).toFixed(2)} s`,
        `p99 < 5 s ${ok(percentile(creation, 99) < 5)}`,
      ),
      row('tick -> all completed (fake agents)', `${(completedAll / 1000).toFixed(1)} s`, ''),
      row(
        'API writes per lifecycle: controller + fake agent = total',
        `${controllerPerPoint.toFixed(2)} + ${agentPerPoint.toFixed(2)} = ${(controllerPerPoint + agentPerPoint).toFixed(2)}`,
        `<= 10 ${ok(controllerPerPoint + agentPerPoint <= 10)}`,
      ),
      ...memory.map((s) =>
        row(
          `controller RSS with ${s.points} recovery points${s.nodeOptions ? ` (${s.nodeOptions})` : ''}`,
          `${s.rssMiB.toFixed(0)} MiB (heap ${s.heapUsedMiB.toFixed(0)})`,
          '',
        ),
      ),
      at50k
        ? row(
            `controller RSS with ${at50k.points} points (measured)`,
            `${at50k.rssMiB.toFixed(0)} MiB`,
            `< 300 MB ${ok(at50k.rssMiB * 1.048576 < 300)}`,
          )
        : row(
            'RSS slope; extrapolated to 50,000 (not measured)',
            `${slopeKiBPerPoint.toFixed(2)} KiB/pt; ${extrapolated50k.toFixed(0)} MiB`,
            `< 300 MB ${ok(extrapolated50k * 1.048576 < 300)}`,
          ),
      row(
        `writes in ${idleSeconds} s idle (besides heartbeats, leases)`,
        String(idleNonLease),
        `0 ${ok(idleNonLease === 0)}`,
      ),
    ];
    process.stdout.write(
      `${lines.join('\n')}\n\ncontroller writes during the lifecycle: ${JSON.stringify(controllerWrites)}\n`,
    );
    process.stdout.write(`idle writes: ${JSON.stringify(idleOthers)}\nsaved ${file}\n`);
  } finally {
    stop.agents = true;
    stop.heartbeats = true;
    await agentLoop.catch(() => undefined);
    await heartbeatLoop.catch(() => undefined);
    await manager?.stop();
    rmSync(repoDir, { recursive: true, force: true });
  }

  /** Waits until the API server sees no writes besides ours and leases for 5 s (longer than the 2 s in which the controller gathers changes before recounting a repository) (at most 90 s). */
  async function waitQuiet(what: string): Promise<void> {
    const begin = performance.now();
    let last = await apiWrites();
    let lastOwn = snapshotOwn();
    let quietSince = performance.now();
    while (performance.now() - begin < 90_000) {
      await sleep(1000);
      const now = await apiWrites();
      const own = snapshotOwn();
      const d = diff(now, last);
      const o = diff(own, lastOwn);
      const others = Object.entries(d).filter(([k, v]) => isShadowkeepWrite(k) && v > (o[k] ?? 0));
      if (others.length > 0) {
        quietSince = performance.now();
      } else if (performance.now() - quietSince >= 5000) {
        return;
      }
      last = now;
      lastOwn = own;
    }
    say(`not quiet after 90 s (${what})`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    say(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
