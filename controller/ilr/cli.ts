import type { parseArgs } from 'node:util';
import { ExitCode, UserError, parseCommandLine, type Command } from '../cli/command.js';
import type { ByteSource } from '../common/byte-source.js';
import { openRepository as openRepositoryAt } from '../datapath/open-repository.js';
import { formatBytes } from '../datapath/progress.js';
import { openStoredDisk } from '../datapath/stored-disk.js';
import { DiskFormatError } from '../disk/errors.js';
import { openVirtualDisk } from '../disk/index.js';
import { CorruptVolumeError, FileNotFoundError, UnsupportedError } from '../ntfs/errors.js';
import { PartitionTableError } from '../partitions/index.js';
import { RepositoryError } from '../repository/errors.js';
import type { Repository } from '../repository/repository.js';
import { CatalogFormatError } from './catalog-codec.js';
import { loadCatalogs } from './catalog-store.js';
import { extract } from './extract.js';
import { findVersions } from './find.js';
import { listPath, type ListEntry } from './listing.js';
import { listVolumes, openVolume, VolumeSelectionError } from './open-volume.js';

const USAGE = `Usage: shadowkeep files <subcommand> [options]

Browse and fetch files inside a recovery point (or a disk image) without restoring the disk.

Subcommands:
  volumes  SOURCE                              list partitions and their file systems
  ls       SOURCE [--partition N] [PATH]       list a directory (default /) or describe a file
  get      SOURCE [--partition N] PATH --out DIR [--stream NAME]
                                               copy a file, or a directory recursively, into DIR
  find     PATTERN --repo URL --key-file PATH [--vm NAME]
                                               versions of matching files across recovery points,
                                               answered from catalogs (no disk is read)

SOURCE is one of
  --manifest ID --repo URL --key-file PATH   a stored disk (SHADOWKEEP_REPO, SHADOWKEEP_KEY_FILE work too)
  --recovery-point NAME [--namespace NS] [--vm-disk LOCATION|FILE]
                                             a RecoveryPoint, found through the cluster (kubeconfig)
  --disk FILE                                a VHDX, VHD or raw image
Partitions are numbered from 1 as in the partition table; the default is the largest NTFS one.
PATTERN is a case-insensitive glob: 'report*.docx' matches names anywhere, '/Users/**/*.pst' whole
paths. Names the host cannot hold are renamed and reported; nothing is written outside --out.
--json prints one JSON document instead of the table.
`;

const OPTIONS = {
  disk: { type: 'string' },
  manifest: { type: 'string' },
  'recovery-point': { type: 'string' },
  namespace: { type: 'string' },
  'vm-disk': { type: 'string' },
  repo: { type: 'string' },
  'key-file': { type: 'string' },
  partition: { type: 'string' },
  out: { type: 'string' },
  stream: { type: 'string' },
  vm: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

function required(value: string | undefined, what: string): string {
  if (value === undefined || value === '') {
    throw new UserError(`${what} is required`, ExitCode.usage);
  }
  return value;
}

async function openRepository(values: Values): Promise<Repository> {
  const url = required(values.repo ?? process.env.SHADOWKEEP_REPO, '--repo (or SHADOWKEEP_REPO)');
  const keyFile = required(
    values['key-file'] ?? process.env.SHADOWKEEP_KEY_FILE,
    '--key-file (or SHADOWKEEP_KEY_FILE)',
  );
  return openRepositoryAt(url, keyFile);
}

/** The disk to browse and, for recovery points, how much it cost to read from the repository. */
interface OpenedSource {
  disk: ByteSource;
  fetched(): number | null;
  close(): Promise<void>;
}

async function openSource(values: Values): Promise<OpenedSource> {
  const given = [values.disk, values.manifest, values['recovery-point']].filter((v) => v !== undefined);
  if (given.length !== 1) {
    throw new UserError('give one of --manifest ID, --recovery-point NAME or --disk FILE', ExitCode.usage);
  }
  if (values.disk !== undefined) {
    const disk = await openVirtualDisk(values.disk);
    return { disk, fetched: () => null, close: () => disk.close() };
  }
  let repo: Repository;
  let manifestId: string;
  if (values['recovery-point'] !== undefined) {
    // Loaded on demand: only this path needs the Kubernetes client.
    const { resolveRecoveryPoint } = await import('./recovery-point-source.js');
    ({ repo, manifestId } = await resolveRecoveryPoint(values['recovery-point'], {
      ...(values.namespace === undefined ? {} : { namespace: values.namespace }),
      ...(values['vm-disk'] === undefined ? {} : { disk: values['vm-disk'] }),
    }));
  } else {
    repo = await openRepository(values);
    manifestId = required(values.manifest, '--manifest');
  }
  const disk = await openStoredDisk(repo, manifestId);
  return { disk, fetched: () => disk.bytesFetched, close: () => Promise.resolve() };
}

async function withSource(values: Values, use: (disk: ByteSource) => Promise<void>): Promise<void> {
  const source = await openSource(values);
  try {
    await use(source.disk);
  } finally {
    await source.close();
  }
  const fetched = source.fetched();
  if (fetched !== null) {
    process.stderr.write(`read ${formatBytes(fetched)} from the repository\n`);
  }
}

function partitionOption(values: Values): number | undefined {
  if (values.partition === undefined) {
    return undefined;
  }
  const n = Number(values.partition);
  if (!Number.isInteger(n) || n < 1) {
    throw new UserError(
      `--partition takes a partition number from 1, not "${values.partition}"`,
      ExitCode.usage,
    );
  }
  return n;
}

/** The human form, or with --json one JSON document for scripts (dates as ISO 8601 strings). */
function emit(values: Values, data: unknown, human: () => string): void {
  process.stdout.write(values.json === true ? `${JSON.stringify(data, null, 2)}\n` : human());
}

const pad = (s: string | number, n: number) => String(s).padStart(n);
const stamp = (d: Date | number) => new Date(d).toISOString().replace('T', ' ').slice(0, 19);

/** One line per entry (`d` directory, `l` link or other reparse point, `c` compressed, `s` sparse, `e` encrypted), plus one per alternate stream. */
function formatEntry(e: ListEntry): string {
  const kind = e.reparse !== null ? 'l' : e.isDirectory ? 'd' : '-';
  const flags = `${kind}${e.compressed ? 'c' : '-'}${e.sparse ? 's' : '-'}${e.encrypted ? 'e' : '-'}`;
  const suffix = e.reparse !== null ? `  (${e.reparse})` : e.isDirectory ? '/' : '';
  const lines = [
    `${flags} ${pad(e.isDirectory ? '' : e.size, 14)}  ${stamp(e.modified)}  ${e.name}${suffix}`,
  ];
  for (const s of e.streams) {
    lines.push(`---- ${pad(s.size, 14)}  ${' '.repeat(19)}  ${e.name}:${s.name}`);
  }
  return lines.join('\n');
}

async function volumesCommand(values: Values): Promise<void> {
  await withSource(values, async (disk) => {
    const { table, volumes } = await listVolumes(disk);
    for (const w of table?.warnings ?? []) {
      process.stderr.write(`warning: ${w}\n`);
    }
    emit(values, { scheme: table?.scheme ?? null, volumes }, () => {
      const lines = volumes.map(({ partition: p, fileSystem }) => {
        const name = p?.name ? ` "${p.name}"` : '';
        return `${pad(p?.number ?? '-', 3)}  ${pad(p?.start ?? 0, 14)}  ${pad(p?.size ?? disk.size, 14)}  ${fileSystem.padEnd(7)}  ${p?.typeName ?? ''}${name}\n`;
      });
      return `${table ? table.scheme.toUpperCase() : 'no partition table'}\n${lines.join('')}`;
    });
  });
}

async function lsCommand(values: Values, path: string): Promise<void> {
  await withSource(values, async (disk) => {
    const { volume } = await openVolume(disk, partitionOption(values));
    const entries = await listPath(volume, path);
    emit(values, entries, () => entries.map((e) => `${formatEntry(e)}\n`).join(''));
  });
}

async function getCommand(values: Values, path: string | undefined): Promise<void> {
  const ntfsPath = required(path, 'PATH');
  const out = required(values.out, '--out DIR');
  await withSource(values, async (disk) => {
    const { volume } = await openVolume(disk, partitionOption(values));
    const report = await extract(
      volume,
      ntfsPath,
      out,
      values.stream === undefined ? {} : { stream: values.stream },
    );
    for (const r of report.renamed) {
      process.stderr.write(`renamed: ${r.ntfsPath} -> ${r.hostPath} (${r.reason})\n`);
    }
    for (const s of report.skipped) {
      process.stderr.write(`skipped: ${s.ntfsPath} (${s.reason})\n`);
    }
    emit(
      values,
      report,
      () =>
        `${report.files} files, ${report.directories} directories, ${formatBytes(report.bytes)} written to ${out}\n`,
    );
  });
}

async function findCommand(values: Values, pattern: string | undefined): Promise<void> {
  const glob = required(pattern, 'PATTERN');
  const repo = await openRepository(values);
  const { points, uncatalogued } = await loadCatalogs(repo, values.vm === undefined ? {} : { vm: values.vm });
  const found = findVersions(points, glob);
  const matches = [...found].map(([path, versions]) => ({ path, versions }));
  const json = {
    matches: matches.map(({ path, versions }) => ({
      path,
      versions: versions.map((v) => ({ ...v, modified: new Date(v.modified).toISOString() })),
    })),
    uncatalogued,
  };
  emit(values, json, () =>
    matches
      .map(({ path, versions }) => {
        const lines = versions.map((v) => {
          const where = `${v.diskName}${v.partition === null ? '' : ` p${v.partition}`}`;
          return `  ${v.createdAt}  ${v.manifestId}  ${pad(v.size, 14)}  modified ${stamp(v.modified)}  ${where}\n`;
        });
        return `${path}\n${lines.join('')}`;
      })
      .join(''),
  );
  process.stderr.write(
    `${found.size} files matched in ${new Set(points.map((p) => p.manifestId)).size} catalogued recovery points\n`,
  );
  if (uncatalogued.length > 0) {
    process.stderr.write(
      `${uncatalogued.length} recovery points have no catalog and were not searched: ${uncatalogued.join(', ')}\n`,
    );
  }
}

/** Errors of modules loaded on demand, recognised by name so that they stay unloaded otherwise. */
const LAZY_USER_ERRORS = new Set(['RecoveryPointLookupError', 'RepositoryAccessError']);

/** Errors about the data, not the program, are shown without a stack trace. */
function asUserError(err: unknown): never {
  if (err instanceof Error && LAZY_USER_ERRORS.has(err.name)) {
    throw new UserError(err.message);
  }
  if (
    err instanceof FileNotFoundError ||
    err instanceof VolumeSelectionError ||
    err instanceof DiskFormatError ||
    err instanceof RepositoryError
  ) {
    throw new UserError(err.message);
  }
  if (err instanceof UnsupportedError) {
    throw new UserError(`unsupported: ${err.message}`);
  }
  if (
    err instanceof CorruptVolumeError ||
    err instanceof PartitionTableError ||
    err instanceof CatalogFormatError
  ) {
    throw new UserError(`damaged: ${err.message}`);
  }
  throw err;
}

export const filesCommand: Command = {
  name: 'files',
  summary: 'browse and fetch files inside a recovery point (item-level recovery)',
  async run(args) {
    const { values, positionals } = parseCommandLine(args, OPTIONS, USAGE);
    const [sub, arg] = positionals;
    if (values.help === true || sub === undefined) {
      process.stdout.write(USAGE);
      return values.help === true ? ExitCode.ok : ExitCode.usage;
    }
    const subcommands: Record<string, () => Promise<void>> = {
      volumes: () => volumesCommand(values),
      ls: () => lsCommand(values, arg ?? '/'),
      get: () => getCommand(values, arg),
      find: () => findCommand(values, arg),
    };
    const run = subcommands[sub];
    if (!run) {
      throw new UserError(`unknown subcommand "${sub}"\n\n${USAGE}`, ExitCode.usage);
    }
    await run().catch(asUserError);
    return ExitCode.ok;
  },
};
