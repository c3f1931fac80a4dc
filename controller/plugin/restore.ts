/**
 * `kubectl shadowkeep restore <recovery-point> --to original|host|disks|items|boot-test`: creates a
 * VirtualMachineRestore (the only way a restore happens; the plugin has no side channel to the
 * hosts) and waits with progress until it is Completed or Failed. Pure building and formatting
 * first; the command at the end does the I/O.
 */
import { formatBytes, type VirtualMachineRestore } from '../api/index.js';
import { ExitCode, UserError } from '../cli/command.js';
import { connectPlugin } from './connect.js';
import { commonUsage, outcomeOf, palette, renderStructured, type Palette } from './output.js';
import { createNew, oneName, pluginVerb, stampedName, writeOutcome } from './verb.js';
import { stillGoingOn, timeoutOf, waitForAll, waitOptions } from './wait.js';

type Target = VirtualMachineRestore['spec']['target'];

export interface RestoreFlags {
  to?: string;
  node?: string;
  path?: string;
  newName?: string;
  start?: boolean;
  stopRunningVm?: boolean;
  items?: string[];
  destination?: string;
  overwrite?: boolean;
  bootTimeout?: string;
}

const usageError = (message: string): UserError => new UserError(message, ExitCode.usage);

/** The spec.target the flags describe, refusing flags that do not belong to the chosen type. */
export function restoreTarget(flags: RestoreFlags): Target {
  const allowed: Record<string, (keyof RestoreFlags)[]> = {
    original: ['start', 'stopRunningVm'],
    host: ['node', 'path', 'newName', 'start'],
    disks: ['node', 'path'],
    items: ['items', 'destination', 'node', 'overwrite'],
    'boot-test': ['node', 'path', 'bootTimeout'],
  };
  const to = flags.to ?? '';
  const permitted = allowed[to];
  if (!permitted) {
    throw usageError(`--to must be original, host, disks, items or boot-test (got '${to}')`);
  }
  const flagName: Record<keyof RestoreFlags, string> = {
    to: '--to',
    node: '--node',
    path: '--path',
    newName: '--new-name',
    start: '--start',
    stopRunningVm: '--stop-running-vm',
    items: '--item',
    destination: '--destination',
    overwrite: '--overwrite',
    bootTimeout: '--boot-timeout',
  };
  const extra = (Object.keys(flags) as (keyof RestoreFlags)[]).filter(
    (k) => k !== 'to' && flags[k] !== undefined && flags[k] !== false && !permitted.includes(k),
  );
  if (extra.length > 0) {
    throw usageError(`${extra.map((k) => flagName[k]).join(', ')} cannot be used with --to ${to}`);
  }
  const need = (key: 'node' | 'path' | 'destination'): string => {
    const value = flags[key];
    if (!value) {
      throw usageError(`--to ${to} needs ${flagName[key]}`);
    }
    return value;
  };
  switch (to) {
    case 'original':
      return {
        type: 'OriginalLocation',
        ...(flags.start ? { startVM: true } : {}),
        ...(flags.stopRunningVm ? { stopRunningVM: true } : {}),
      };
    case 'host':
      return {
        type: 'AlternateHost',
        nodeName: need('node'),
        path: need('path'),
        ...(flags.newName ? { newName: flags.newName } : {}),
        ...(flags.start ? { startVM: true } : {}),
      };
    case 'disks':
      return { type: 'Disks', nodeName: need('node'), path: need('path') };
    case 'boot-test':
      return {
        type: 'BootTest',
        ...(flags.node ? { nodeName: flags.node } : {}),
        ...(flags.path ? { path: flags.path } : {}),
        ...(flags.bootTimeout ? { bootTimeout: flags.bootTimeout } : {}),
      };
    default: {
      if (!flags.items?.length) {
        throw usageError('--to items needs at least one --item PATH (a path inside the recovery point)');
      }
      return {
        type: 'Items',
        ...(flags.node ? { nodeName: flags.node } : {}),
        items: {
          paths: flags.items,
          destination: need('destination'),
          ...(flags.overwrite ? { overwrite: true } : {}),
        },
      };
    }
  }
}

/** `<point>-restore-<yyyymmdd>-<hhmmss>` (UTC): unique per second, a valid object name. */
export function restoreName(point: string, now: Date): string {
  return stampedName(point, 'restore', now);
}

export function restoreObject(
  name: string,
  namespace: string,
  point: string,
  target: Target,
  fromRepository?: string,
): VirtualMachineRestore {
  return {
    apiVersion: 'shadowkeep.io/v1alpha1',
    kind: 'VirtualMachineRestore',
    metadata: { name, namespace },
    spec: { recoveryPoint: point, ...(fromRepository ? { fromRepository } : {}), target },
  };
}

/** The outcome for people: what was restored where, or why not and what is left. */
export function restoreOutcome(restore: VirtualMachineRestore, colours: Palette): string {
  const s = restore.status ?? {};
  const items = (s.items ?? []).map((i) => `  ${i.path}: ${i.result}${i.message ? ` (${i.message})` : ''}`);
  const details = [
    s.conditions?.find((c) => c.type === 'Ready')?.message,
    s.restoredBytes !== undefined ? `${formatBytes(s.restoredBytes)} written` : undefined,
    s.nodeName ? `on ${s.nodeName}` : undefined,
  ];
  return [outcomeOf(`virtualmachinerestore/${restore.metadata.name}`, s, details, colours), ...items].join(
    '\n',
  );
}

const usage =
  'Usage: kubectl shadowkeep restore <recovery-point> --to original|host|disks|items|boot-test [options]\n' +
  'Creates a VirtualMachineRestore and waits until it is Completed or Failed (exit code 1 if it failed).\n' +
  '  --to original           the whole VM back in place, same ID (refused while it runs unless\n' +
  '                          --stop-running-vm); --start to start it afterwards\n' +
  '  --to host               a copy with a new ID: --node NODE --path FOLDER [--new-name NAME] [--start]\n' +
  '  --to disks              the VHDX files only: --node NODE --path FOLDER\n' +
  '  --to items              files and folders: --item PATH (repeatable) --destination FOLDER\n' +
  '                          [--node NODE] [--overwrite]\n' +
  '  --to boot-test          prove it boots: a throw-away VM on an isolated switch, started until\n' +
  '                          its heartbeat answers, then removed [--node NODE] [--path FOLDER]\n' +
  '                          [--boot-timeout DURATION] (default 10m)\n' +
  '  --from-repository NAME  read from this offsite copy instead of the primary repository\n' +
  '  --name NAME             name of the VirtualMachineRestore (default <point>-restore-<time>)\n' +
  '  --no-wait               create it and return\n' +
  '  --timeout DURATION      give up waiting after this long (default 2h)\n' +
  commonUsage;

export const restoreCommand = pluginVerb({
  name: 'restore',
  summary: 'restore a recovery point (whole VM, disks or files) and wait for it',
  usage,
  options: {
    to: { type: 'string' },
    node: { type: 'string' },
    path: { type: 'string' },
    'new-name': { type: 'string' },
    start: { type: 'boolean' },
    'stop-running-vm': { type: 'boolean' },
    item: { type: 'string', multiple: true },
    destination: { type: 'string' },
    overwrite: { type: 'boolean' },
    'boot-timeout': { type: 'string' },
    'from-repository': { type: 'string' },
    name: { type: 'string' },
    ...waitOptions,
  },
  positionals: true,
  async run({ values, positionals, format, namespace }) {
    const point = oneName(positionals, 'recovery point', usage);
    const target = restoreTarget({
      ...(values.to !== undefined ? { to: values.to } : {}),
      ...(values.node !== undefined ? { node: values.node } : {}),
      ...(values.path !== undefined ? { path: values.path } : {}),
      ...(values['new-name'] !== undefined ? { newName: values['new-name'] } : {}),
      ...(values.start !== undefined ? { start: values.start } : {}),
      ...(values['stop-running-vm'] !== undefined ? { stopRunningVm: values['stop-running-vm'] } : {}),
      ...(values.item !== undefined ? { items: values.item } : {}),
      ...(values.destination !== undefined ? { destination: values.destination } : {}),
      ...(values.overwrite !== undefined ? { overwrite: values.overwrite } : {}),
      ...(values['boot-timeout'] !== undefined ? { bootTimeout: values['boot-timeout'] } : {}),
    });
    const timeoutMs = timeoutOf(values.timeout);
    const { clients } = connectPlugin();
    const rp = await clients.recoveryPoints.get(point, namespace);
    if (!rp) {
      throw new UserError(
        `no recovery point '${point}' in namespace ${namespace}; list them with kubectl shadowkeep timeline <vm> -n ${namespace}`,
      );
    }
    if (rp.status?.phase !== 'Completed') {
      throw new UserError(
        `recovery point ${point} is ${rp.status?.phase ?? 'Pending'}; only a Completed one can be restored`,
      );
    }
    const name = values.name ?? restoreName(point, new Date());
    const object = restoreObject(name, namespace, point, target, values['from-repository']);
    await createNew(
      () => clients.restores.create(object),
      `virtualmachinerestore ${name} already exists; pick another --name`,
    );
    if (format === 'table') {
      process.stdout.write(`virtualmachinerestore/${name} created (${target.type} from ${point})\n`);
    }
    if (values['no-wait']) {
      if (format !== 'table') {
        process.stdout.write(renderStructured(await clients.restores.get(name, namespace), format));
      }
      return ExitCode.ok;
    }
    const latest = await waitForAll({
      names: [name],
      fetch: (n) => clients.restores.get(n, namespace),
      timeoutMs,
      ...stillGoingOn(values.timeout, 'the restore goes on', `kubectl get vmrestore -n ${namespace} ${name}`),
    });
    const restore = latest.get(name);
    if (!restore) {
      throw new UserError(`virtualmachinerestore ${name} was deleted while it ran`);
    }
    const failed = restore.status?.phase === 'Failed';
    if (format === 'table') {
      writeOutcome(failed, (colours) => restoreOutcome(restore, colours));
    } else {
      process.stdout.write(renderStructured(restore, format));
      if (failed) {
        process.stderr.write(`${restoreOutcome(restore, palette(false))}\n`);
      }
    }
    return failed ? ExitCode.failed : ExitCode.ok;
  },
});
