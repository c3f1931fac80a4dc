/**
 * `kubectl shadowkeep backup`: an on-demand RecoveryPoint for one VM (by name or Hyper-V ID) or for
 * every VM a policy protects, then waits until each is Completed or Failed, with a progress bar on
 * a terminal and plain lines otherwise. The pure planning and formatting functions come first; the
 * command at the end does the I/O.
 */
import {
  type HyperVVirtualMachine,
  type RecoveryPoint,
  type VirtualMachineProtection,
} from '../api/index.js';
import { ExitCode, UserError } from '../cli/command.js';
import { asListOrItem, connectPlugin } from './connect.js';
import { commonUsage, outcomeOf, palette, renderStructured, type Palette } from './output.js';
import { createNew, pluginVerb, stampedName, writeOutcome } from './verb.js';
import { stillGoingOn, timeoutOf, waitForAll, waitOptions } from './wait.js';

/** One VM to back up and under which policy (or straight into a repository). */
export interface BackupTarget {
  vmId: string;
  vmName: string;
  protection?: string;
  repository?: string;
}

/** A VM the request named but that will not be backed up, and why. */
export interface Skipped {
  vmName: string;
  reason: string;
}

/** Name of an on-demand point: `<vm>-ondemand-<yyyymmdd>-<hhmmss>` (UTC), a valid object name. */
export function onDemandPointName(vmName: string, now: Date): string {
  return stampedName(vmName, 'ondemand', now);
}

/** The inventory object for a VM given by name (case-insensitive) or Hyper-V ID. */
export function findVm(nameOrId: string, vms: readonly HyperVVirtualMachine[]): HyperVVirtualMachine {
  const wanted = nameOrId.toLowerCase();
  const byId = vms.find((vm) => vm.metadata.name === wanted || vm.spec.id.toLowerCase() === wanted);
  if (byId) {
    return byId;
  }
  const byName = vms.filter((vm) => vm.status?.vmName?.toLowerCase() === wanted);
  const [only] = byName;
  if (!only) {
    throw new UserError(`no VM named '${nameOrId}' in the inventory; list them with kubectl get hvvm`);
  }
  if (byName.length > 1) {
    const where = byName.map((vm) => `${vm.spec.id} on ${vm.status?.host ?? 'an unknown host'}`).join(', ');
    throw new UserError(
      `${byName.length} VMs are named '${nameOrId}' (${where}): give the Hyper-V ID instead`,
    );
  }
  return only;
}

/**
 * Under which policy one VM is backed up: the policy in `namespace` that protects it
 * (status.protectedBy); without one, the repository given with --repository, or the namespace's
 * only repository.
 */
export function targetForVm(
  vm: HyperVVirtualMachine,
  namespace: string,
  repositories: readonly string[],
  repositoryFlag?: string,
): BackupTarget {
  const vmName = vm.status?.vmName ?? vm.metadata.name;
  const base = { vmId: vm.spec.id.toLowerCase(), vmName };
  if (repositoryFlag) {
    return { ...base, repository: repositoryFlag };
  }
  const policy = (vm.status?.protectedBy ?? []).find((p) => p.namespace === namespace);
  if (policy) {
    return { ...base, protection: policy.name };
  }
  const [only] = repositories;
  if (repositories.length === 1 && only) {
    return { ...base, repository: only };
  }
  const elsewhere = (vm.status?.protectedBy ?? []).map((p) => `${p.namespace}/${p.name}`);
  throw new UserError(
    `no policy in namespace ${namespace} protects ${vmName}` +
      (elsewhere.length ? ` (it is protected by ${elsewhere.join(', ')}; pass -n)` : '') +
      `; pass --repository NAME to back it up into one of ${namespace}'s repositories` +
      (repositories.length ? ` (${repositories.join(', ')})` : ' (there are none)'),
  );
}

/** Every VM a policy protects now (mode Online or SavedState), and the selected ones it does not. */
export function targetsForPolicy(policy: VirtualMachineProtection): {
  targets: BackupTarget[];
  skipped: Skipped[];
} {
  const targets: BackupTarget[] = [];
  const skipped: Skipped[] = [];
  for (const row of policy.status?.vms ?? []) {
    if (row.mode === 'Online' || row.mode === 'SavedState') {
      targets.push({ vmId: row.id.toLowerCase(), vmName: row.name, protection: policy.metadata.name });
    } else {
      const why = row.blockers?.map((b) => b.message).join('; ');
      skipped.push({ vmName: row.name, reason: `${row.mode}${why ? `: ${why}` : ''}` });
    }
  }
  return { targets, skipped };
}

/**
 * The RecoveryPoint object for an on-demand backup of `target`. Under a policy it also spells out
 * the policy's repository, backup mode and maximum downtime, so the point describes itself (and
 * the agent, which reads only the point's spec, honours the policy's mode).
 */
export function onDemandPoint(
  target: BackupTarget,
  namespace: string,
  now: Date,
  policy?: VirtualMachineProtection,
): RecoveryPoint {
  const repository = target.repository ?? policy?.spec.repository;
  return {
    apiVersion: 'shadowkeep.io/v1alpha1',
    kind: 'RecoveryPoint',
    metadata: { name: onDemandPointName(target.vmName, now), namespace },
    spec: {
      ...(target.protection ? { protection: target.protection } : {}),
      vm: { name: target.vmName, id: target.vmId },
      ...(repository ? { repository } : {}),
      ...(policy?.spec.backupMode ? { requestedMode: policy.spec.backupMode } : {}),
      ...(policy?.spec.maxDowntime ? { maxDowntime: policy.spec.maxDowntime } : {}),
    },
  };
}

/** The outcome for people: what was captured, or why it failed. */
export function outcomeLine(rp: RecoveryPoint, colours: Palette): string {
  const s = rp.status ?? {};
  return outcomeOf(
    `recoverypoint/${rp.metadata.name}`,
    s,
    [
      s.consistency,
      s.method,
      s.size ? `size ${s.size}` : undefined,
      s.uploaded ? `uploaded ${s.uploaded}` : undefined,
      s.nodeName ? `on ${s.nodeName}` : undefined,
    ],
    colours,
  );
}

const usage =
  'Usage: kubectl shadowkeep backup <vm> [--repository NAME] [options]\n' +
  '       kubectl shadowkeep backup --policy NAME [options]\n' +
  'Takes an on-demand recovery point of a VM (by name or Hyper-V ID), or of every VM a policy\n' +
  'protects, and waits until each is Completed or Failed (exit code 1 if any failed).\n' +
  '  --policy NAME           back up every VM the policy protects now\n' +
  '  --repository NAME       for a VM no policy in the namespace protects\n' +
  '  --no-wait               create the recovery points and return\n' +
  '  --timeout DURATION      give up waiting after this long, e.g. 30m (default 2h)\n' +
  commonUsage;

export const backupCommand = pluginVerb({
  name: 'backup',
  summary: 'take an on-demand recovery point of a VM or a policy, and wait for it',
  usage,
  options: { policy: { type: 'string' }, repository: { type: 'string' }, ...waitOptions },
  positionals: true,
  async run({ values, positionals, format, namespace }) {
    const [vmArg, ...extra] = positionals;
    if ((vmArg === undefined) === (values.policy === undefined) || extra.length > 0) {
      throw new UserError(`name one VM or give --policy NAME\n${usage}`, ExitCode.usage);
    }
    const timeoutMs = timeoutOf(values.timeout);
    const { clients } = connectPlugin();
    const now = new Date();

    let targets: BackupTarget[];
    let skipped: Skipped[] = [];
    let policy: VirtualMachineProtection | undefined;
    if (values.policy !== undefined) {
      policy = await clients.protections.get(values.policy, namespace);
      if (!policy) {
        throw new UserError(
          `no policy '${values.policy}' in namespace ${namespace}; list them with kubectl get vmp -n ${namespace}`,
        );
      }
      ({ targets, skipped } = targetsForPolicy(policy));
      if (targets.length === 0) {
        throw new UserError(
          `policy ${values.policy} protects no VM now` +
            (skipped.length ? `: ${skipped.map((s) => `${s.vmName} (${s.reason})`).join('; ')}` : ''),
        );
      }
    } else {
      const { items: vms } = await clients.vms.list();
      const vm = findVm(vmArg ?? '', vms);
      const repositories = values.repository
        ? []
        : (await clients.repositories.list(namespace)).items.map((r) => r.metadata.name);
      targets = [targetForVm(vm, namespace, repositories, values.repository)];
      const protection = targets[0]?.protection;
      policy = protection ? await clients.protections.get(protection, namespace) : undefined;
    }
    for (const s of skipped) {
      process.stderr.write(`skipping ${s.vmName}: ${s.reason}\n`);
    }

    const names: string[] = [];
    for (const target of targets) {
      const point = onDemandPoint(target, namespace, now, policy);
      await createNew(
        () => clients.recoveryPoints.create(point),
        `recovery point ${point.metadata.name} already exists; try again in a second`,
      );
      names.push(point.metadata.name);
      if (format === 'table') {
        process.stdout.write(
          `recoverypoint/${point.metadata.name} created (${target.vmName}, ${target.protection ? `policy ${target.protection}` : `repository ${target.repository ?? ''}`})\n`,
        );
      }
    }
    if (values['no-wait']) {
      if (format !== 'table') {
        const created = await Promise.all(names.map((n) => clients.recoveryPoints.get(n, namespace)));
        process.stdout.write(renderStructured(asListOrItem(created, values.policy === undefined), format));
      }
      return ExitCode.ok;
    }

    const latest = await waitForAll({
      names,
      fetch: (name) => clients.recoveryPoints.get(name, namespace),
      timeoutMs,
      ...stillGoingOn(
        values.timeout,
        'the backups go on',
        `kubectl get rp -n ${namespace} ${names.join(' ')}`,
      ),
    });

    const points = names.map((n) => latest.get(n)).filter((rp): rp is RecoveryPoint => rp !== undefined);
    const failed = points.filter((rp) => rp.status?.phase === 'Failed');
    if (format === 'table') {
      for (const rp of points) {
        writeOutcome(rp.status?.phase === 'Failed', (colours) => outcomeLine(rp, colours));
      }
    } else {
      process.stdout.write(renderStructured(asListOrItem(points, values.policy === undefined), format));
      for (const rp of failed) {
        process.stderr.write(`${outcomeLine(rp, palette(false))}\n`);
      }
    }
    return failed.length > 0 ? ExitCode.failed : ExitCode.ok;
  },
});
