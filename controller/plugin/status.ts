/**
 * `kubectl shadowkeep status`: coverage of the whole inventory. Every HyperVVirtualMachine, the
 * policy that protects it (status.protectedBy), how it can be backed up, its newest recovery point
 * and that point's age, and the RPO state from the protecting policy's RPOMet condition. VMs no
 * policy protects are listed, and a VM that two policies select is flagged.
 */
import {
  conditionTypes,
  reasons,
  type HyperVVirtualMachine,
  type VirtualMachineProtection,
} from '../api/index.js';
import { ExitCode } from '../cli/command.js';
import { isNotFound, KubeApiError } from '../kube/rest.js';
import { connectPlugin } from './connect.js';
import { ageOf, commonUsage, renderTable, type Palette } from './output.js';
import { pluginVerb, writeResult } from './verb.js';

/** Met, Missed (the VM is named in RPOMet=False), Unknown (no condition yet), or "-" unprotected. */
export type RPOState = 'Met' | 'Missed' | 'Unknown' | '-';

export interface CoverageRow {
  vm: string;
  id: string;
  host: string;
  state: string;
  /** What the VM allows now: Online, SavedState or Unprotectable. */
  backupMode: string;
  /** The protecting policies, `name` for the namespace shown, `namespace/name` for others. */
  protectedBy: string[];
  lastRecoveryPoint?: { name: string; time?: string; age: string; consistency?: string };
  rpo: RPOState;
  /** Other policies that also select the VM but leave it to the one protecting it. */
  alsoSelectedBy: string[];
  /** Protected by none, or selected by more than one policy. */
  unprotected: boolean;
  doubleSelected: boolean;
}

export interface Coverage {
  namespace: string;
  vms: CoverageRow[];
  unprotected: string[];
  doubleSelected: string[];
}

const policyKey = (namespace: string, name: string): string => `${namespace}/${name}`;

/** The RPO state of one VM under a policy, read from the policy's RPOMet condition. */
export function rpoStateOf(policy: VirtualMachineProtection | undefined, vmName: string): RPOState {
  const condition = policy?.status?.conditions?.find((c) => c.type === conditionTypes.RPOMet);
  if (!condition || condition.status === 'Unknown') {
    return 'Unknown';
  }
  if (condition.status === 'True') {
    return 'Met';
  }
  // The message lists the VMs that miss it: "older than 6h allowed: sql01 (newest is 7h old), web01 (...)".
  const listed = condition.message.split(/[:,;]\s*/).some((part) => part.startsWith(`${vmName} (`));
  return listed ? 'Missed' : 'Met';
}

/**
 * Coverage of every VM in `vms`, judged by the policies given (those of `namespace`, plus any
 * other policy a VM's status.protectedBy names that the caller could read).
 */
export function coverage(
  vms: readonly HyperVVirtualMachine[],
  policies: readonly VirtualMachineProtection[],
  namespace: string,
  now: Date,
): Coverage {
  const byKey = new Map(policies.map((p) => [policyKey(p.metadata.namespace ?? '', p.metadata.name), p]));
  const shown = (ns: string, name: string): string => (ns === namespace ? name : `${ns}/${name}`);
  const rows = vms.map((vm): CoverageRow => {
    const id = vm.spec.id.toLowerCase();
    const name = vm.status?.vmName ?? vm.metadata.name;
    const protectedBy = vm.status?.protectedBy ?? [];
    const alsoSelectedBy = policies
      .filter((p) =>
        (p.status?.vms ?? []).some(
          (row) =>
            row.id.toLowerCase() === id &&
            row.mode === 'Excluded' &&
            (row.blockers ?? []).some((b) => b.reason === reasons.ProtectedByAnotherPolicy),
        ),
      )
      .map((p) => shown(p.metadata.namespace ?? '', p.metadata.name))
      .filter((p) => !protectedBy.some((by) => shown(by.namespace, by.name) === p));
    const [first] = protectedBy;
    const last = vm.status?.lastRecoveryPoint;
    return {
      vm: name,
      id,
      host: vm.status?.host ?? '',
      state: vm.status?.state ?? '',
      backupMode: vm.status?.backup?.mode ?? '',
      protectedBy: protectedBy.map((p) => shown(p.namespace, p.name)),
      ...(last
        ? {
            lastRecoveryPoint: {
              name: last.name,
              ...(last.time ? { time: last.time } : {}),
              age: ageOf(last.time, now),
              ...(last.consistency ? { consistency: last.consistency } : {}),
            },
          }
        : {}),
      rpo: first ? rpoStateOf(byKey.get(policyKey(first.namespace, first.name)), name) : '-',
      alsoSelectedBy,
      unprotected: protectedBy.length === 0,
      doubleSelected: protectedBy.length > 1 || alsoSelectedBy.length > 0,
    };
  });
  rows.sort((a, b) => a.vm.localeCompare(b.vm) || a.id.localeCompare(b.id));
  return {
    namespace,
    vms: rows,
    unprotected: rows.filter((r) => r.unprotected).map((r) => r.vm),
    doubleSelected: rows.filter((r) => r.doubleSelected).map((r) => r.vm),
  };
}

/** The coverage table and a summary line under it. */
export function formatCoverage(c: Coverage, colours: Palette): string {
  if (c.vms.length === 0) {
    return 'No VMs in the inventory: are the host agents running? (kubectl get hvhost)\n';
  }
  const rpo = (r: CoverageRow): string =>
    r.rpo === 'Met' ? colours.green(r.rpo) : r.rpo === 'Missed' ? colours.red(r.rpo) : r.rpo;
  const table = renderTable(
    ['VM', 'HOST', 'STATE', 'BACKUP', 'PROTECTED-BY', 'LAST-RECOVERY-POINT', 'AGE', 'RPO', 'NOTES'],
    c.vms.map((r) => [
      r.vm,
      r.host || '-',
      r.state || '-',
      r.backupMode === 'Unprotectable' ? colours.red(r.backupMode) : r.backupMode || '-',
      r.unprotected ? colours.red('<unprotected>') : r.protectedBy.join(','),
      r.lastRecoveryPoint?.name ?? '-',
      r.lastRecoveryPoint?.age ?? '-',
      rpo(r),
      r.doubleSelected
        ? colours.yellow(
            `selected by ${[...r.protectedBy, ...r.alsoSelectedBy].length} policies (also ${r.alsoSelectedBy.join(',') || r.protectedBy.slice(1).join(',')})`,
          )
        : '',
    ]),
  );
  const protectedCount = c.vms.length - c.unprotected.length;
  const parts = [`${c.vms.length} VMs, ${protectedCount} protected`];
  if (c.unprotected.length) {
    parts.push(colours.red(`${c.unprotected.length} unprotected: ${c.unprotected.join(', ')}`));
  }
  if (c.doubleSelected.length) {
    parts.push(
      colours.yellow(`${c.doubleSelected.length} selected by two policies: ${c.doubleSelected.join(', ')}`),
    );
  }
  return `${table}\n${parts.join('; ')}\n`;
}

const usage =
  'Usage: kubectl shadowkeep status [options]\n' +
  'Coverage: every VM of the inventory, the policy that protects it, its newest recovery point\n' +
  'and the RPO state; unprotected VMs and VMs two policies select are called out.\n' +
  commonUsage;

export const statusCommand = pluginVerb({
  name: 'status',
  summary: 'coverage: every VM, the policy that protects it, RPO state',
  usage,
  options: {},
  positionals: false,
  async run({ format, namespace }) {
    const { clients } = connectPlugin();
    const [{ items: vms }, { items: policies }] = await Promise.all([
      clients.vms.list(),
      clients.protections.list(namespace),
    ]);
    // Policies of other namespaces that protect a VM: read them when allowed, for their RPO state.
    const known = new Set(policies.map((p) => policyKey(p.metadata.namespace ?? '', p.metadata.name)));
    const others = new Map<string, { namespace: string; name: string }>();
    for (const by of vms.flatMap((vm) => vm.status?.protectedBy ?? [])) {
      if (!known.has(policyKey(by.namespace, by.name))) {
        others.set(policyKey(by.namespace, by.name), by);
      }
    }
    const extra = await Promise.all(
      [...others.values()].map(async (by) => {
        try {
          return await clients.protections.get(by.name, by.namespace);
        } catch (err) {
          if (isNotFound(err) || (err instanceof KubeApiError && err.code === 403)) {
            return undefined;
          }
          throw err;
        }
      }),
    );
    const all = [...policies, ...extra.filter((p): p is VirtualMachineProtection => p !== undefined)];
    const result = coverage(vms, all, namespace, new Date());
    writeResult(format, result, (colours) => formatCoverage(result, colours));
    return ExitCode.ok;
  },
});
