import { parseArgs } from 'node:util';
import { ExitCode, UserError, type Command } from '../cli/command.js';
import type { ByteSource } from '../common/byte-source.js';
import { openVirtualDisk } from '../disk/index.js';
import { CorruptVolumeError, FileNotFoundError, UnsupportedError } from '../ntfs/errors.js';
import { PartitionTableError } from '../partitions/index.js';
import { extract } from './extract.js';
import { listPath, type ListEntry } from './listing.js';
import { listVolumes, openVolume, VolumeSelectionError } from './open-volume.js';

const USAGE = `Usage: shadowkeep files <subcommand> [options]

Browse and fetch files inside a virtual disk without restoring it.

Subcommands:
  volumes --disk FILE                              list partitions and their file systems
  ls      --disk FILE [--partition N] [PATH]       list a directory (default /) or describe a file
  get     --disk FILE [--partition N] PATH --out DIR [--stream NAME]
                                                   copy a file, or a directory recursively, into DIR

--disk takes a VHDX, VHD or raw image. Partitions are numbered from 1 as in the partition table; the
default is the largest NTFS partition. Names the host cannot hold are renamed and reported.
`;

const OPTIONS = {
  disk: { type: 'string' },
  partition: { type: 'string' },
  out: { type: 'string' },
  stream: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Parsed = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

async function withDisk<T>(values: Parsed, use: (disk: ByteSource) => Promise<T>): Promise<T> {
  if (values.disk === undefined) {
    throw new UserError('--disk FILE is required', ExitCode.usage);
  }
  const disk = await openVirtualDisk(values.disk);
  try {
    return await use(disk);
  } finally {
    await disk.close();
  }
}

function partitionOption(values: Parsed): number | undefined {
  if (values.partition === undefined) {
    return undefined;
  }
  const n = Number(values.partition);
  if (!Number.isInteger(n) || n < 1) {
    throw new UserError(`--partition takes a partition number from 1, not "${values.partition}"`, ExitCode.usage);
  }
  return n;
}

const pad = (s: string | number, n: number) => String(s).padStart(n);
const stamp = (d: Date) => d.toISOString().replace('T', ' ').slice(0, 19);

export function formatEntry(e: ListEntry): string {
  const flags = `${e.isDirectory ? 'd' : '-'}${e.compressed ? 'c' : '-'}${e.sparse ? 's' : '-'}${e.encrypted ? 'e' : '-'}`;
  const lines = [`${flags} ${pad(e.isDirectory ? '' : e.size, 14)}  ${stamp(e.modified)}  ${e.name}${e.isDirectory ? '/' : ''}`];
  for (const s of e.streams) {
    lines.push(`${'-'.repeat(4)} ${pad(s.size, 14)}  ${' '.repeat(19)}  ${e.name}:${s.name}`);
  }
  return lines.join('\n');
}

async function volumesCommand(values: Parsed): Promise<void> {
  await withDisk(values, async (disk) => {
    const { table, volumes } = await listVolumes(disk);
    process.stdout.write(`${table ? table.scheme.toUpperCase() : 'no partition table'}\n`);
    for (const w of table?.warnings ?? []) {
      process.stderr.write(`warning: ${w}\n`);
    }
    for (const v of volumes) {
      const p = v.partition;
      process.stdout.write(
        p
          ? `${pad(p.number, 3)}  ${pad(p.start, 14)}  ${pad(p.size, 14)}  ${v.fileSystem.padEnd(7)}  ${p.typeName}${p.name ? ` "${p.name}"` : ''}\n`
          : `  -  ${pad(0, 14)}  ${pad(disk.size, 14)}  ${v.fileSystem}\n`,
      );
    }
  });
}

async function lsCommand(values: Parsed, path: string): Promise<void> {
  await withDisk(values, async (disk) => {
    const { volume } = await openVolume(disk, partitionOption(values));
    for (const entry of await listPath(volume, path)) {
      process.stdout.write(`${formatEntry(entry)}\n`);
    }
  });
}

async function getCommand(values: Parsed, path: string | undefined): Promise<void> {
  if (path === undefined || values.out === undefined) {
    throw new UserError('get needs a PATH and --out DIR', ExitCode.usage);
  }
  const out = values.out;
  await withDisk(values, async (disk) => {
    const { volume } = await openVolume(disk, partitionOption(values));
    const report = await extract(volume, path, out, values.stream === undefined ? {} : { stream: values.stream });
    for (const r of report.renamed) {
      process.stderr.write(`renamed: ${r.ntfsPath} -> ${r.hostPath} (${r.reason})\n`);
    }
    for (const s of report.skipped) {
      process.stderr.write(`skipped: ${s.ntfsPath} (${s.reason})\n`);
    }
    process.stdout.write(`${report.files} files, ${report.directories} directories, ${report.bytes} bytes written to ${out}\n`);
  });
}

/** Errors about the data (not the program) are shown to the user without a stack trace. */
function asUserError(err: unknown): never {
  if (err instanceof FileNotFoundError || err instanceof VolumeSelectionError) {
    throw new UserError(err.message);
  }
  if (err instanceof UnsupportedError) {
    throw new UserError(`unsupported: ${err.message}`);
  }
  if (err instanceof CorruptVolumeError || err instanceof PartitionTableError) {
    throw new UserError(`damaged volume: ${err.message}`);
  }
  throw err;
}

export const filesCommand: Command = {
  name: 'files',
  summary: 'browse and fetch files inside a virtual disk (item-level recovery)',
  async run(args) {
    let parsed;
    try {
      parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
    } catch (err) {
      throw new UserError(`${(err as Error).message}\n\n${USAGE}`, ExitCode.usage);
    }
    const { values, positionals } = parsed;
    const [sub, path] = positionals;
    if (values.help === true || sub === undefined) {
      process.stdout.write(USAGE);
      return values.help === true ? ExitCode.ok : ExitCode.usage;
    }
    try {
      switch (sub) {
        case 'volumes':
          await volumesCommand(values);
          break;
        case 'ls':
          await lsCommand(values, path ?? '/');
          break;
        case 'get':
          await getCommand(values, path);
          break;
        default:
          throw new UserError(`unknown subcommand "${sub}"\n\n${USAGE}`, ExitCode.usage);
      }
    } catch (err) {
      asUserError(err);
    }
    return ExitCode.ok;
  },
};
