/**
 * `shadowkeep sim`: create and drive a simulated Hyper-V cluster for the filehost backend. Every
 * host agent started with `--hypervisor filehost --sim-root <root>` sees what this command does.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { ExitCode, UserError, type Command } from '../cli/command.js';
import { decideBackupMode } from './decision.js';
import { FileHost } from './filehost/filehost.js';
import { runGuestWriter } from './filehost/guest-writer.js';
import { SimCluster, type DiskSpec, type IntegrationServiceKey } from './filehost/sim.js';
import type { SimState } from './filehost/config.js';
import { HypervisorError, IntegrationServiceId } from './types.js';

const usage = `Usage: shadowkeep sim [--root DIR] <command> ...

The simulated cluster lives in --root (default: $SHADOWKEEP_SIM_ROOT, else ./.shadowkeep-sim).
A VM is named by its id or its exact name.

Hosts
  host create <node> [--cluster NAME] [--legacy]     --legacy: Windows Server 2012 R2 (no RCT)
  host list
VMs
  vm create <name> --host NODE [--storage local|csv:VOLUME|smb:SERVER/SHARE] [--disk SIZE]...
            [--file PATH[:NAME]]... [--blank-disk SIZE]... [--pass-through N]... [--shared-disk SIZE]...
            [--generation 1|2] [--os TEXT] [--linux] [--running]
  vm list                                             every VM, its owner, state and backup mode
  vm show <vm>                                        inventory and backup decision as JSON
  start|stop|save|pause <vm> [--force]
  write <vm> --offset N (--text TEXT | --file PATH)   one guest write
  write <vm> --writer [--interval-ms N] [--count N]   keep writing until stopped (guest-writer mode)
  migrate <vm> --to NODE                              live migration: the owner changes, disks stay
  move-storage <vm> --to DIR                          storage migration: disks move, change tracking is lost
  ic <vm> <${Object.keys(IntegrationServiceId).join('|')}> on|off
  guest <vm> [--dynamic-disks on|off] [--non-ntfs on|off] [--vss on|off] [--outdated-ic on|off] [--boot-ms N] [--bootable on|off]
  fault <vm> [--vss-timeout on|off] [--merge on|off] [--snapshot-failure on|off] [--slow-disk-ms N]
`;

type Handler = (sim: SimCluster, args: string[]) => Promise<void>;

export const simCommand: Command = {
  name: 'sim',
  summary: 'create and drive simulated Hyper-V hosts (filehost backend)',
  async run(argv) {
    const { root, args } = rootOption(argv);
    const [group, ...rest] = args;
    if (group === undefined || group === '--help' || group === '-h') {
      process.stdout.write(usage);
      return group === undefined ? ExitCode.usage : ExitCode.ok;
    }
    const handler = handlers[group];
    if (!handler) {
      throw new UserError(`unknown sim command '${group}'\n\n${usage}`, ExitCode.usage);
    }
    try {
      await handler(new SimCluster(root), rest);
    } catch (err) {
      // Hypervisor errors are written for people already; show them without a stack.
      if (err instanceof HypervisorError) {
        throw new UserError(err.message);
      }
      throw err;
    }
    return ExitCode.ok;
  },
};

/** `--root DIR` (or `--root=DIR`) comes before the command, so each command owns the rest of the line. */
function rootOption(argv: string[]): { root: string; args: string[] } {
  const fallback = process.env.SHADOWKEEP_SIM_ROOT ?? '.shadowkeep-sim';
  const [first = '', second] = argv;
  if (first === '--root') {
    if (second === undefined) {
      throw new UserError('--root needs a folder', ExitCode.usage);
    }
    return { root: second, args: argv.slice(2) };
  }
  if (first.startsWith('--root=')) {
    return { root: first.slice('--root='.length), args: argv.slice(1) };
  }
  return { root: fallback, args: argv };
}

const handlers: Record<string, Handler> = {
  host: subcommands('host', { create: createHost, list: listHosts }),
  vm: subcommands('vm', { create: createVm, list: listVms, show: showVm }),
  start: power('Running'),
  save: power('Saved'),
  pause: power('Paused'),
  stop: power('Off'),
  write,
  migrate,
  'move-storage': moveStorage,
  ic: integrationService,
  guest,
  fault,
};

function subcommands(group: string, table: Record<string, Handler>): Handler {
  return (sim, args) => {
    const handler = table[args[0] ?? ''];
    if (!handler) {
      throw new UserError(`usage: ${group} ${Object.keys(table).join('|')}`, ExitCode.usage);
    }
    return handler(sim, args.slice(1));
  };
}

function parse<const T extends ParseArgsOptionsConfig>(args: string[], options: T, positionals: number) {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UserError(`${(err as Error).message}\n\n${usage}`, ExitCode.usage);
  }
  if (parsed.positionals.length !== positionals) {
    throw new UserError(
      `expected ${positionals} argument(s), got ${parsed.positionals.length}\n\n${usage}`,
      ExitCode.usage,
    );
  }
  return { values: parsed.values, names: parsed.positionals };
}

/** "64M", "1G", "512K" or plain bytes. */
export function parseSize(text: string): number {
  const match = /^(\d+)([KMG]?)i?B?$/i.exec(text);
  if (!match?.[1]) {
    throw new UserError(`${JSON.stringify(text)} is not a size (e.g. 64M)`, ExitCode.usage);
  }
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[(match[2] ?? '').toUpperCase()] ?? 1;
  return Number(match[1]) * unit;
}

function onOff(value: string | undefined, option: string): boolean | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (value !== 'on' && value !== 'off') {
    throw new UserError(`--${option} takes on or off`, ExitCode.usage);
  }
  return value === 'on';
}

function integer(value: string | undefined, option: string): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (!/^\d+$/.test(value)) {
    throw new UserError(`--${option} takes a whole number`, ExitCode.usage);
  }
  return Number(value);
}

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

async function createHost(sim: SimCluster, args: string[]): Promise<void> {
  const { values, names } = parse(args, { cluster: { type: 'string' }, legacy: { type: 'boolean' } }, 1);
  const host = await sim.createHost({
    name: names[0] ?? '',
    ...(values.cluster === undefined ? {} : { cluster: values.cluster }),
    recoverySnapshots: values.legacy !== true,
  });
  print(
    `host ${host.name} created${host.cluster === undefined ? '' : ` in cluster ${host.cluster}`} (${host.osVersion})`,
  );
}

async function listHosts(sim: SimCluster, args: string[]): Promise<void> {
  parse(args, {}, 0);
  for (const host of await sim.hosts()) {
    print(`${host.name}\t${host.cluster ?? '-'}\t${host.osVersion}`);
  }
}

/** `local`, `csv:Volume1` or `smb:server/share`: storage named by kind, never a free path. */
function storageFolder(sim: SimCluster, storage: string, node: string): string {
  if (storage === 'local') {
    return sim.layout.localStorage(node);
  }
  const [kind, place = ''] = storage.split(':', 2);
  if (kind === 'csv') {
    return sim.layout.csvVolume(place);
  }
  const [server = '', share = ''] = place.split('/');
  if (kind === 'smb') {
    return sim.layout.smbShare(server, share);
  }
  throw new UserError(`--storage takes local, csv:VOLUME or smb:SERVER/SHARE`, ExitCode.usage);
}

async function createVm(sim: SimCluster, args: string[]): Promise<void> {
  const { values, names } = parse(
    args,
    {
      host: { type: 'string' },
      storage: { type: 'string', default: 'local' },
      disk: { type: 'string', multiple: true },
      'blank-disk': { type: 'string', multiple: true },
      file: { type: 'string', multiple: true },
      'pass-through': { type: 'string', multiple: true },
      'shared-disk': { type: 'string', multiple: true },
      generation: { type: 'string', default: '2' },
      os: { type: 'string' },
      linux: { type: 'boolean' },
      running: { type: 'boolean' },
    },
    1,
  );
  if (values.host === undefined) {
    throw new UserError('vm create needs --host', ExitCode.usage);
  }
  const files = await Promise.all(
    (values.file ?? []).map(async (spec) => {
      const [path = '', name = basename(path)] = spec.split(':');
      return { name, data: await readFile(path) };
    }),
  );
  const disks: DiskSpec[] = [
    ...(values.disk ?? (values['blank-disk'] === undefined ? ['64M'] : [])).map((size, i): DiskSpec => ({
      kind: 'Ntfs',
      sizeBytes: parseSize(size),
      files: i === 0 ? files : [],
    })),
    ...(values['blank-disk'] ?? []).map((size): DiskSpec => ({ kind: 'Blank', sizeBytes: parseSize(size) })),
    ...(values['shared-disk'] ?? []).map((size): DiskSpec => ({
      kind: 'Blank',
      sizeBytes: parseSize(size),
      shared: true,
    })),
    ...(values['pass-through'] ?? []).map((n): DiskSpec => ({
      kind: 'PassThrough',
      diskNumber: integer(n, 'pass-through') ?? 0,
    })),
  ];
  const linux = values.linux === true;
  const vm = await sim.createVm({
    name: names[0] ?? '',
    owner: values.host,
    storage: storageFolder(sim, values.storage, values.host),
    disks,
    generation: values.generation === '1' ? 1 : 2,
    guest: {
      os: values.os ?? (linux ? 'Ubuntu 24.04 LTS' : 'Windows Server 2022 Datacenter'),
      family: linux ? 'Linux' : 'Windows',
    },
    running: values.running === true,
  });
  print(vm.id);
}

async function ownerHost(sim: SimCluster, idOrName: string): Promise<{ host: FileHost; vmId: string }> {
  const vm = await sim.findVm(idOrName);
  return { host: new FileHost({ root: sim.layout.root, node: vm.owner }), vmId: vm.id };
}

async function listVms(sim: SimCluster, args: string[]): Promise<void> {
  parse(args, {}, 0);
  for (const host of await sim.hosts()) {
    const node = new FileHost({ root: sim.layout.root, node: host.name });
    const info = await node.getHost();
    for (const vm of await node.listVms()) {
      print([vm.id, vm.name, vm.ownerNode, vm.state, decideBackupMode(vm, info).mode].join('\t'));
    }
  }
}

async function showVm(sim: SimCluster, args: string[]): Promise<void> {
  const { names } = parse(args, {}, 1);
  const { host, vmId } = await ownerHost(sim, names[0] ?? '');
  const vm = await host.getVm(vmId);
  print(JSON.stringify({ vm, decision: vm && decideBackupMode(vm, await host.getHost()) }, null, 2));
}

function power(state: SimState): Handler {
  return async (sim, args) => {
    const { values, names } = parse(args, { force: { type: 'boolean' } }, 1);
    const { host, vmId } = await ownerHost(sim, names[0] ?? '');
    if (state === 'Off') {
      await host.stopVm(vmId, { force: values.force === true });
    } else {
      await host.setPowerState(vmId, state);
    }
    print(`${names[0] ?? ''}: ${state}`);
  };
}

async function write(sim: SimCluster, args: string[]): Promise<void> {
  const { values, names } = parse(
    args,
    {
      offset: { type: 'string' },
      text: { type: 'string' },
      file: { type: 'string' },
      writer: { type: 'boolean' },
      'interval-ms': { type: 'string' },
      count: { type: 'string' },
    },
    1,
  );
  const vm = await sim.findVm(names[0] ?? '');
  if (values.writer === true) {
    const stop = new AbortController();
    const onSignal = (): void => {
      stop.abort();
    };
    process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
    const count = integer(values.count, 'count');
    const written = await runGuestWriter(sim, vm.id, {
      intervalMs: integer(values['interval-ms'], 'interval-ms') ?? 50,
      ...(count === undefined ? {} : { count }),
      signal: stop.signal,
      onWrite: (w) => {
        print(`write ${w.index} at ${w.offset} (${w.length} bytes)`);
      },
    });
    print(`${written} writes`);
    return;
  }
  const offset = integer(values.offset, 'offset');
  const data =
    values.text !== undefined
      ? Buffer.from(values.text)
      : values.file !== undefined
        ? await readFile(values.file)
        : undefined;
  if (offset === undefined || data === undefined) {
    throw new UserError('write needs --offset and --text or --file (or --writer)', ExitCode.usage);
  }
  await sim.guestWrite(vm.id, offset, data);
  print(`wrote ${data.length} bytes at ${offset}`);
}

async function migrate(sim: SimCluster, args: string[]): Promise<void> {
  const { values, names } = parse(args, { to: { type: 'string' } }, 1);
  const { host, vmId } = await ownerHost(sim, names[0] ?? '');
  await host.liveMigrate(vmId, values.to ?? '');
  print(`${names[0] ?? ''}: now on ${values.to ?? ''}`);
}

async function moveStorage(sim: SimCluster, args: string[]): Promise<void> {
  const { values, names } = parse(args, { to: { type: 'string' } }, 1);
  const { host, vmId } = await ownerHost(sim, names[0] ?? '');
  await host.moveStorage(vmId, values.to ?? '');
  print(`${names[0] ?? ''}: disks now in ${values.to ?? ''}`);
}

async function integrationService(sim: SimCluster, args: string[]): Promise<void> {
  const { names } = parse(args, {}, 3);
  const [vmName = '', service = '', state] = names;
  if (!(service in IntegrationServiceId)) {
    throw new UserError(`unknown integration service ${service}`, ExitCode.usage);
  }
  const vm = await sim.findVm(vmName);
  await sim.setIntegrationService(vm.id, service as IntegrationServiceKey, onOff(state, 'state') ?? true);
}

async function guest(sim: SimCluster, args: string[]): Promise<void> {
  const { values, names } = parse(
    args,
    {
      'dynamic-disks': { type: 'string' },
      'non-ntfs': { type: 'string' },
      vss: { type: 'string' },
      'outdated-ic': { type: 'string' },
      'boot-ms': { type: 'string' },
      bootable: { type: 'string' },
    },
    1,
  );
  const vm = await sim.findVm(names[0] ?? '');
  const changes = {
    dynamicDisks: onOff(values['dynamic-disks'], 'dynamic-disks'),
    nonSnapshotFileSystem: onOff(values['non-ntfs'], 'non-ntfs'),
    vssCapable: onOff(values.vss, 'vss'),
    integrationComponentsOutdated: onOff(values['outdated-ic'], 'outdated-ic'),
    bootMs: integer(values['boot-ms'], 'boot-ms'),
    bootable: onOff(values.bootable, 'bootable'),
  };
  await sim.setGuest(vm.id, Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)));
}

async function fault(sim: SimCluster, args: string[]): Promise<void> {
  const { values, names } = parse(
    args,
    {
      'vss-timeout': { type: 'string' },
      merge: { type: 'string' },
      'snapshot-failure': { type: 'string' },
      'slow-disk-ms': { type: 'string' },
    },
    1,
  );
  const vm = await sim.findVm(names[0] ?? '');
  const changes = {
    vssWriterTimeout: onOff(values['vss-timeout'], 'vss-timeout'),
    mergeInProgress: onOff(values.merge, 'merge'),
    snapshotFailure: onOff(values['snapshot-failure'], 'snapshot-failure'),
    slowDiskMs: integer(values['slow-disk-ms'], 'slow-disk-ms'),
  };
  await sim.setFaults(vm.id, Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)));
}
