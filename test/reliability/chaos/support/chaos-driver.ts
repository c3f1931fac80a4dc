/**
 * Carries out a fault plan against a running estate: kill -9 of agents and controller replicas
 * (the leader read from its Lease at that moment), each started again after its down time, and
 * one restart of the kube-apiserver through `hack/control-plane restart-apiserver`. Every action
 * is logged with its time, so a run can be read back against the processes' own logs.
 */
import path from 'node:path';
import { execa } from 'execa';
import { repoRoot, toolsEnv } from '../../../support/kube.js';
import type { Estate } from './estate.js';
import type { Fault } from './fault-plan.js';
import type { ShadowkeepProcess } from './processes.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The control plane state folder whose kube-apiserver KUBECONFIG talks to; restarting another one
 * would prove nothing, so a mismatch is an error that says how to run the test.
 */
export function controlPlaneDir(): string {
  const dir = path.resolve(
    process.env.SHADOWKEEP_CONTROL_PLANE_DIR ?? path.join(repoRoot, '.cache/control-plane'),
  );
  const kubeconfig = path.resolve(process.env.KUBECONFIG ?? '');
  if (kubeconfig !== path.join(dir, 'kubeconfig')) {
    throw new Error(
      `KUBECONFIG (${kubeconfig}) is not the control plane in ${dir}, whose API server the chaos run restarts: ` +
        'run the test against a control plane started by hack/control-plane up, with the same SHADOWKEEP_CONTROL_PLANE_DIR',
    );
  }
  return dir;
}

/** The process at `index`, or the next one that runs (one killed a moment ago may still be down). */
function runningFrom(processes: readonly ShadowkeepProcess[], index: number): ShadowkeepProcess {
  for (let i = 0; i < processes.length; i++) {
    const candidate = processes[(index + i) % processes.length]!;
    if (candidate.pid !== undefined) {
      return candidate;
    }
  }
  return processes[index % processes.length]!;
}

export interface FaultRecord {
  fault: Fault;
  /** What was hit, e.g. `controller-2 (pid 4711, leader)`. */
  victim: string;
  at: number;
  /** When the killed process ran again, or the API server answered again. */
  backAt: number;
}

export class ChaosDriver {
  readonly records: FaultRecord[] = [];
  private readonly restarts: Promise<void>[] = [];

  constructor(
    private readonly estate: Estate,
    private readonly startedAt: number,
    private readonly log: (line: string) => void,
  ) {}

  private stamp(): string {
    return `+${((Date.now() - this.startedAt) / 1000).toFixed(1)}s`;
  }

  async run(plan: readonly Fault[]): Promise<void> {
    for (const fault of plan) {
      await sleep(Math.max(0, this.startedAt + fault.atMs - Date.now()));
      await this.inject(fault);
    }
    await Promise.all(this.restarts);
  }

  private async inject(fault: Fault): Promise<void> {
    if (fault.kind === 'restart-apiserver') {
      const at = Date.now();
      this.log(`[chaos ${this.stamp()}] kill -9 kube-apiserver and start it again`);
      await execa(path.join(repoRoot, 'hack/control-plane'), ['restart-apiserver'], {
        env: { ...toolsEnv, SHADOWKEEP_CONTROL_PLANE_DIR: controlPlaneDir() },
      });
      this.records.push({ fault, victim: 'kube-apiserver', at, backAt: Date.now() });
      this.log(
        `[chaos ${this.stamp()}] kube-apiserver ready again after ${((Date.now() - at) / 1000).toFixed(1)}s`,
      );
      return;
    }
    const { victim, label } = await this.choose(fault);
    const pid = victim.pid;
    const at = Date.now();
    await victim.kill9();
    this.log(
      `[chaos ${this.stamp()}] kill -9 ${victim.name} (pid ${pid ?? 'not running'}${label}); restart in ${(fault.downMs / 1000).toFixed(1)}s`,
    );
    const record: FaultRecord = { fault, victim: `${victim.name}${label}`, at, backAt: at };
    this.records.push(record);
    this.restarts.push(
      sleep(fault.downMs).then(() => {
        if (victim.pid === undefined) {
          victim.start();
        }
        record.backAt = Date.now();
        this.log(`[chaos ${this.stamp()}] started ${victim.name} again (pid ${victim.pid ?? '?'})`);
      }),
    );
  }

  /** Waits up to `timeoutMs` for an offsite copy in phase Copying; returns its point's name. */
  private async copyInProgress(timeoutMs: number): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const { items } = await this.estate.clients.recoveryPoints
        .list(this.estate.namespace)
        .catch(() => ({ items: [] }));
      const copying = items.find((rp) => rp.status?.copies?.some((c) => c.phase === 'Copying'));
      if (copying) {
        return copying.metadata.name;
      }
      await sleep(200);
    }
    return undefined;
  }

  private async choose(fault: Fault): Promise<{ victim: ShadowkeepProcess; label: string }> {
    const { controllers, agents } = this.estate;
    if (fault.kind === 'kill-agent') {
      return { victim: runningFrom(agents, fault.target), label: '' };
    }
    if (fault.kind === 'kill-leader') {
      // The copy workers run in the leader: killing it while a copy runs kills the copy midway.
      const copying = await this.copyInProgress(15_000);
      const leader = await this.estate.leaderPid().catch(() => undefined);
      const holder = controllers.find((c) => c.pid !== undefined && c.pid === leader);
      if (holder) {
        return { victim: holder, label: copying ? `, leader, while copying ${copying}` : ', leader' };
      }
      // No replica holds the lease right now (a handover is under way): hit one that runs.
      const running = controllers.find((c) => c.pid !== undefined) ?? controllers[0]!;
      return { victim: running, label: ', no leader at this moment' };
    }
    const victim = runningFrom(controllers, fault.target);
    const leader = await this.estate.leaderPid().catch(() => undefined);
    return { victim, label: victim.pid !== undefined && victim.pid === leader ? ', leader' : ', standby' };
  }
}
