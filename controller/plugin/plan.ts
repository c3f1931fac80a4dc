/**
 * `kubectl shadowkeep plan <policy>`: what a policy does and will need, read from the cluster and
 * computed with the controller's own pure planners: which VMs it protects and when it runs next,
 * which recovery points retention keeps (and why) or expires now, and the storage each repository
 * will hold in steady state, from the change rates the recovery points measured.
 */
import { formatBytes, type RecoveryPoint, type VirtualMachineProtection } from '../api/index.js';
import { vmIdOf } from '../api/index.js';
import { ExitCode, UserError } from '../cli/command.js';
import { nextSlot } from '../policy/schedule.js';
import { projectVM, steadyStateKept, type MeasuredPoints, type SteadyState } from '../policy/projection.js';
import { pointInputs, policyInput, selectedVMs } from '../protection/inputs.js';
import { planProtection, retainedPoints } from '../protection/plan.js';
import { planRetention } from '../policy/retention.js';
import { connectPlugin } from './connect.js';
import { commonUsage, defaultNamespace, renderTable, shortTime, type Palette } from './output.js';
import { oneName, pluginVerb, writeResult } from './verb.js';

export interface VMPlan {
  vm: string;
  mode: string;
  host?: string;
  nextRunTime?: string;
  blockers: string[];
  recoveryPoints: number;
  kept: { name: string; why: string[] }[];
  expireNow: { name: string; why: string }[];
  storedFullBytes?: number;
  changePerPoint?: number;
  projectedBytes?: number;
  ruleOfThumbBytes: number;
}

export interface RepositoryProjection {
  repository: string;
  role: 'primary' | 'offsite';
  keptPerVM: number;
  lowerBound: boolean;
  /** Sum over the VMs measured so far; undefined when none has an incremental yet. */
  projectedBytes?: number;
  ruleOfThumbBytes: number;
  vmsNotMeasured: string[];
}

export interface PolicyPlan {
  policy: string;
  namespace: string;
  schedule: string;
  timeZone: string;
  nextRunTime?: string;
  verification?: { schedule: string; level: string; nextRunTime?: string };
  vms: VMPlan[];
  repositories: RepositoryProjection[];
}

const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

/** What a VM's completed recovery points measured: the full copy, each incremental, the data size. */
export function measure(points: readonly RecoveryPoint[]): MeasuredPoints {
  const completed = points
    .filter((p) => p.status?.phase === 'Completed')
    .sort((a, b) => (b.status?.pointInTime ?? '').localeCompare(a.status?.pointInTime ?? ''));
  const uploaded = (p: RecoveryPoint): number =>
    sum((p.status?.disks ?? []).map((d) => d.uploadedBytes ?? 0));
  const full = completed.find((p) => p.status?.method === 'Full');
  return {
    ...(full ? { fullBytes: uploaded(full) } : {}),
    protectedBytes: sum((completed[0]?.status?.disks ?? []).map((d) => d.allocatedBytes ?? 0)),
    incrementalBytes: completed.filter((p) => p.status?.method === 'Incremental').map(uploaded),
  };
}

function projectRepository(
  repository: string,
  role: RepositoryProjection['role'],
  steady: SteadyState,
  measured: Map<string, MeasuredPoints>,
): RepositoryProjection {
  const projections = [...measured].map(([vm, m]) => ({ vm, ...projectVM(m, steady) }));
  const projected = projections.filter((p) => p.projectedBytes !== undefined);
  return {
    repository,
    role,
    keptPerVM: steady.kept,
    lowerBound: steady.lowerBound,
    ...(projected.length > 0 ? { projectedBytes: sum(projected.map((p) => p.projectedBytes ?? 0)) } : {}),
    ruleOfThumbBytes: sum(projections.map((p) => p.ruleOfThumbBytes)),
    vmsNotMeasured: projections.filter((p) => p.projectedBytes === undefined).map((p) => p.vm),
  };
}

/** The whole plan, as a pure function of the objects and the clock. */
export function planPolicy(
  policy: VirtualMachineProtection,
  world: {
    vms: Parameters<typeof selectedVMs>[1];
    policies: readonly VirtualMachineProtection[];
    points: readonly RecoveryPoint[];
    restores: Parameters<typeof pointInputs>[2];
    repositoryFound: boolean;
    controllerNamespace: string;
  },
  now: Date,
): PolicyPlan {
  const input = policyInput(policy, world.repositoryFound, now);
  const vms = selectedVMs(policy, world.vms, world.policies, world.controllerNamespace);
  const own = world.points.filter(
    (p) => p.metadata.namespace === input.namespace && p.spec.protection === input.name,
  );
  const inputs = pointInputs(own, world.points, world.restores);
  const plan = planProtection(input, vms, inputs, now);
  const steady = steadyStateKept(input.schedule, input.retention, now);
  const measured = new Map<string, MeasuredPoints>();
  const rows: VMPlan[] = plan.rows.map((row) => {
    const mine = own.filter((p) => vmIdOf(p) === row.id);
    const retained = planRetention(
      retainedPoints(
        inputs.filter((p) => p.vmId === row.id),
        now,
      ),
      input.retention,
      now,
      input.schedule.timeZone ?? 'UTC',
    );
    const m = measure(mine);
    if (row.mode === 'Online' || row.mode === 'SavedState') {
      measured.set(row.name, m);
    }
    const projection = projectVM(m, steady);
    return {
      vm: row.name,
      mode: row.mode,
      ...(row.host ? { host: row.host } : {}),
      ...(row.nextRunTime ? { nextRunTime: row.nextRunTime } : {}),
      blockers: row.blockers.map((b) => b.message),
      recoveryPoints: mine.length,
      kept: [...retained.keep].map(([name, why]) => ({ name, why })),
      expireNow: plan.delete.filter((d) => mine.some((p) => p.metadata.name === d.name)),
      ...(m.fullBytes !== undefined ? { storedFullBytes: m.fullBytes } : {}),
      ...(projection.changePerPoint !== undefined
        ? { changePerPoint: Math.round(projection.changePerPoint) }
        : {}),
      ...(projection.projectedBytes !== undefined ? { projectedBytes: projection.projectedBytes } : {}),
      ruleOfThumbBytes: projection.ruleOfThumbBytes,
    };
  });
  const offsite = (policy.spec.offsite ?? []).map((o) =>
    projectRepository(o.repository, 'offsite', steadyStateKept(input.schedule, o.retention, now), measured),
  );
  const verification = policy.spec.verification;
  const verificationNext = verification ? nextSlot(verification.schedule, now) : undefined;
  return {
    policy: input.name,
    namespace: input.namespace,
    schedule: input.schedule.cron,
    timeZone: input.schedule.timeZone ?? 'UTC',
    ...(plan.nextRunTime ? { nextRunTime: plan.nextRunTime.toISOString() } : {}),
    ...(verification
      ? {
          verification: {
            schedule: verification.schedule.cron,
            level: verification.level ?? 'Checksums',
            ...(verificationNext ? { nextRunTime: verificationNext.toISOString() } : {}),
          },
        }
      : {}),
    vms: rows,
    repositories: [projectRepository(input.repository, 'primary', steady, measured), ...offsite],
  };
}

const bytes = (n: number | undefined): string => (n === undefined ? '-' : formatBytes(n));

export function renderPlan(plan: PolicyPlan, c: Palette): string {
  const lines = [
    `${c.bold(`Policy ${plan.namespace}/${plan.policy}`)}: '${plan.schedule}' (${plan.timeZone}), next run ${shortTime(plan.nextRunTime)}`,
    plan.verification
      ? `Verification: ${plan.verification.level} at '${plan.verification.schedule}', next ${shortTime(plan.verification.nextRunTime)}`
      : 'Verification: none (spec.verification is not set)',
    '',
  ];
  const table = renderTable(
    [
      'VM',
      'MODE',
      'NEXT-RUN',
      'POINTS',
      'KEPT',
      'EXPIRE-NOW',
      'FULL',
      'CHANGE/POINT',
      'PROJECTED',
      '3X-RULE',
    ],
    plan.vms.map((v) => [
      v.vm,
      v.mode === 'Unprotectable' ? c.red(v.mode) : v.mode,
      shortTime(v.nextRunTime),
      String(v.recoveryPoints),
      String(v.kept.length),
      v.expireNow.length ? c.yellow(v.expireNow.map((e) => e.name).join(',')) : '-',
      bytes(v.storedFullBytes),
      bytes(v.changePerPoint),
      bytes(v.projectedBytes),
      bytes(v.ruleOfThumbBytes),
    ]),
  );
  const repositories = plan.repositories.map((r) => {
    const kept = `${r.lowerBound ? 'at least ' : ''}${r.keptPerVM} points per VM kept`;
    const projected =
      r.projectedBytes === undefined
        ? 'no incremental measured yet'
        : `projected ${formatBytes(r.projectedBytes)} from measured change rates`;
    const missing = r.vmsNotMeasured.length ? ` (not yet measured: ${r.vmsNotMeasured.join(', ')})` : '';
    return `Repository ${r.repository} (${r.role}): ${kept}; ${projected}${missing}; the 3x rule of thumb says ${formatBytes(r.ruleOfThumbBytes)}`;
  });
  const blockers = plan.vms.flatMap((v) => v.blockers.map((b) => `  ${v.vm}: ${b}`));
  return [
    ...lines,
    table.trimEnd(),
    '',
    ...repositories,
    ...(blockers.length ? ['', 'Not protected as asked:', ...blockers] : []),
    '',
  ].join('\n');
}

const usage =
  'Usage: kubectl shadowkeep plan <policy> [options]\n' +
  'Shows what a policy does: the VMs it protects and when it runs next, what retention keeps and\n' +
  'expires, and the storage each repository needs in steady state from measured change rates.\n' +
  `  --controller-namespace NS  the controller's own namespace (default ${defaultNamespace})\n` +
  commonUsage;

export const planCommand = pluginVerb({
  name: 'plan',
  summary: 'what a policy does and the storage it will need, from measured change rates',
  usage,
  options: { 'controller-namespace': { type: 'string', default: defaultNamespace } },
  positionals: true,
  async run({ values, positionals, format, namespace }) {
    const name = oneName(positionals, 'policy', usage);
    const { clients } = connectPlugin();
    const policy = await clients.protections.get(name, namespace);
    if (!policy) {
      throw new UserError(
        `no policy '${name}' in namespace ${namespace}; list them with kubectl get vmp -n ${namespace}`,
      );
    }
    const [vms, policies, points, restores, repository] = await Promise.all([
      clients.vms.list(),
      clients.protections.list(),
      clients.recoveryPoints.list(namespace),
      clients.restores.list(namespace),
      clients.repositories.get(policy.spec.repository, namespace),
    ]);
    const plan = planPolicy(
      policy,
      {
        vms: vms.items,
        policies: policies.items,
        points: points.items,
        restores: restores.items,
        repositoryFound: repository !== undefined,
        controllerNamespace: values['controller-namespace'],
      },
      new Date(),
    );
    writeResult(format, plan, (colours) => renderPlan(plan, colours));
    return ExitCode.ok;
  },
});
