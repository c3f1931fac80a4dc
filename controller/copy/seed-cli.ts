/**
 * `shadowkeep seed`: the first copy of a large VM on removable media instead of a slow link.
 * `export` writes a recovery point into a folder as a twin of its repository (encrypted, same key,
 * so nothing is decrypted on the way); `import` at the other site loads the folder into the
 * offsite BackupRepository. The copier then finds every chunk present and sends only what changed.
 */
import type { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { ExitCode, UserError, parseCommandLine, type Command } from '../cli/command.js';
import { formatBytes } from '../api/quantities.js';
import { manifestsOf } from '../recoverypoint/data.js';
import { RepositoryAccessError, openRepository, readRepositoryKey } from '../repositories/access.js';
import { RepositoryError } from '../repository/errors.js';
import { StorageError } from '../storage/storage.js';
import { Repository } from '../repository/repository.js';
import { FilesystemStorage } from '../storage/filesystem.js';
import {
  RecoveryPointLookupError,
  connectFromCli,
  lookUpRecoveryPoint,
  lookUpRepository,
} from '../ilr/recovery-point-source.js';
import { copyManifests, type CopyReport } from './copy-point.js';

const USAGE = `Usage:
  shadowkeep seed export --recovery-point NAME [-n NAMESPACE] --to DIR
      Write the recovery point's data (encrypted) into DIR, e.g. a removable disk.
  shadowkeep seed import --from DIR --repository OFFSITE --source-repository PRIMARY [-n NAMESPACE]
      Load DIR into the offsite BackupRepository OFFSITE. PRIMARY is the BackupRepository the seed
      was exported from: its Secret opens the seed.
`;

const OPTIONS = {
  'recovery-point': { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  to: { type: 'string' },
  from: { type: 'string' },
  repository: { type: 'string' },
  'source-repository': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

function required(value: string | undefined, flag: string): string {
  if (!value) {
    throw new UserError(`${flag} is required\n\n${USAGE}`, ExitCode.usage);
  }
  return value;
}

function summary(what: string, report: CopyReport): string {
  return `${what}: ${report.manifests.length} disks, ${report.chunksCopied} chunks written (${formatBytes(report.bytesSent)}), ${report.chunksPresent} already there\n`;
}

async function exportSeed(values: Values): Promise<void> {
  const name = required(values['recovery-point'], '--recovery-point');
  const folder = resolve(required(values.to, '--to'));
  const { rest, point, repository } = await lookUpRecoveryPoint(name, values.namespace);
  if (point.status?.phase !== 'Completed') {
    throw new UserError(
      `RecoveryPoint ${name} is ${point.status?.phase ?? 'Pending'}; only a completed one can be seeded`,
    );
  }
  const source = await openRepository(rest, repository);
  const storage = new FilesystemStorage(folder);
  // The seed is sealed under the primary's own Secret, so it is no easier to read than the primary.
  const key = await readRepositoryKey(rest, repository);
  const seed = (await storage.stat('config'))
    ? await Repository.open(storage, key)
    : await Repository.initCopyOf(storage, key, source);
  const report = await copyManifests(source, seed, manifestsOf(point));
  process.stdout.write(summary(`exported ${name} to ${folder}`, report));
}

async function importSeed(values: Values): Promise<void> {
  const folder = resolve(required(values.from, '--from'));
  const targetName = required(values.repository, '--repository');
  const sourceName = required(values['source-repository'], '--source-repository');
  const { rest, namespace } = connectFromCli(values.namespace);
  const sourceObject = await lookUpRepository(rest, namespace, sourceName);
  const targetObject = await lookUpRepository(rest, namespace, targetName);
  const seed = await Repository.open(
    new FilesystemStorage(folder),
    await readRepositoryKey(rest, sourceObject),
  );
  const target = await openRepository(rest, targetObject, { twinOf: seed });
  const report = await copyManifests(seed, target, await seed.listManifestIds());
  process.stdout.write(summary(`imported ${folder} into ${namespace}/${targetName}`, report));
}

export const seedCommand: Command = {
  name: 'seed',
  summary: 'carry the first offsite copy on removable media (export, import)',
  async run(args) {
    const { values, positionals } = parseCommandLine(args, OPTIONS, USAGE);
    const [sub] = positionals;
    if (values.help === true || sub === undefined) {
      process.stdout.write(USAGE);
      return values.help === true ? ExitCode.ok : ExitCode.usage;
    }
    const run = { export: exportSeed, import: importSeed }[sub];
    if (!run) {
      throw new UserError(`unknown subcommand "${sub}"\n\n${USAGE}`, ExitCode.usage);
    }
    await run(values).catch((err: unknown) => {
      // Expected failures (missing objects, wrong keys, unreachable storage) read as one line.
      if (
        err instanceof RecoveryPointLookupError ||
        err instanceof RepositoryAccessError ||
        err instanceof RepositoryError ||
        err instanceof StorageError
      ) {
        throw new UserError(err.message);
      }
      throw err;
    });
    return ExitCode.ok;
  },
};
