/**
 * The `repo` and `disk` commands: the data path on the command line, for operators and scripts.
 * Human output by default, one JSON document with --json; errors become one-line messages.
 * What only one command needs (checks, garbage collection, restores, copies) is imported by that
 * command: every module costs a short command such as a changed-range backup about 1 ms cold.
 */
import { access } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ExitCode, UserError, type Command } from '../cli/command.js';
import { DiskFormatError } from '../disk/errors.js';
import { openVirtualDisk } from '../disk/open.js';
import { RepositoryError } from '../repository/errors.js';
import { Repository } from '../repository/repository.js';
import { STORAGE_URL_HELP, openStorage } from '../storage/open.js';
import { StorageError } from '../storage/storage.js';
import { backupDisk } from './backup.js';
import { readChangedRanges } from './changed-ranges.js';
import { createKeyFile, readKeyFile } from './key-file.js';
import { openRepository } from './open-repository.js';
import { formatBytes, progressBar } from './progress.js';
import { CONFIG_KEY } from '../repository/layout.js';

const common = {
  repo: { type: 'string' },
  'key-file': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

type Options<O extends ParseArgsConfig['options']> = ReturnType<
  typeof parseArgs<{ options: O; strict: true }>
>['values'];

interface Sub<O extends ParseArgsConfig['options']> {
  summary: string;
  usage: string;
  options: O;
  run(values: Options<O & typeof common>): Promise<number>;
}

function sub<O extends ParseArgsConfig['options']>(s: Sub<O>): Sub<ParseArgsConfig['options']> {
  return s as unknown as Sub<ParseArgsConfig['options']>;
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') {
    throw new UserError(`${flag} is required`, ExitCode.usage);
  }
  return value;
}

function repoUrl(values: { repo?: string }): string {
  return required(values.repo ?? process.env.SHADOWKEEP_REPO, '--repo (or SHADOWKEEP_REPO)');
}

function keyFilePath(values: { 'key-file'?: string }): string {
  return required(
    values['key-file'] ?? process.env.SHADOWKEEP_KEY_FILE,
    '--key-file (or SHADOWKEEP_KEY_FILE)',
  );
}

function openRepo(values: { repo?: string; 'key-file'?: string }): Promise<Repository> {
  return openRepository(repoUrl(values), keyFilePath(values));
}

function print(json: boolean, data: unknown, human: string): void {
  process.stdout.write(
    json ? `${JSON.stringify(data, null, 2)}\n` : human.endsWith('\n') || human === '' ? human : `${human}\n`,
  );
}

function parseSize(text: string, flag: string): number {
  const m = /^(\d+)([KMG]i?B?)?$/i.exec(text.trim());
  if (!m?.[1]) {
    throw new UserError(`${flag}: '${text}' is not a size (e.g. 1048576, 1MiB, 512K)`, ExitCode.usage);
  }
  const scale = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }[(m[2]?.[0] ?? '').toLowerCase()] ?? 1;
  return Number(m[1]) * scale;
}

/** `--manifest latest`: the newest recovery point of disk `name`, or of any disk. */
async function latestId(repo: Repository, name: string | undefined): Promise<string> {
  const latest = await repo.latestManifest(name);
  if (!latest) {
    throw new UserError(
      name === undefined
        ? `${repo.storage.url} holds no recovery point yet`
        : `${repo.storage.url} holds no recovery point of disk '${name}' (see 'disk ls')`,
    );
  }
  return latest.id;
}

function parseThreads(text: string | undefined): number | undefined {
  if (text === undefined) {
    return undefined;
  }
  if (!/^[0-8]$/.test(text)) {
    throw new UserError(
      `--threads: '${text}' must be a number from 0 to 8 (0: no worker threads)`,
      ExitCode.usage,
    );
  }
  return Number(text);
}

function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m?.[1]) {
    throw new UserError(`--grace: '${text}' is not a duration (e.g. 0, 30m, 24h)`, ExitCode.usage);
  }
  const unit = { ms: 1, s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[m[2] ?? 's'] ?? 1e3;
  return Number(m[1]) * unit;
}

const repoSubcommands: Record<string, Sub<ParseArgsConfig['options']>> = {
  init: sub({
    summary: 'create a repository (and the key file, if it does not exist)',
    usage:
      'repo init --repo URL --key-file PATH [--chunk-size SIZE] [--pack-size SIZE] [--compression-level N]',
    options: {
      'chunk-size': { type: 'string' },
      'pack-size': { type: 'string' },
      'compression-level': { type: 'string' },
    },
    async run(v) {
      const path = keyFilePath(v);
      const exists = await access(path).then(
        () => true,
        () => false,
      );
      const material = exists ? await readKeyFile(path) : await createKeyFile(path);
      const repo = await Repository.init(openStorage(repoUrl(v)), material, {
        chunkSize: v['chunk-size'] ? parseSize(v['chunk-size'], '--chunk-size') : undefined,
        packSize: v['pack-size'] ? parseSize(v['pack-size'], '--pack-size') : undefined,
        compressionLevel: v['compression-level'] !== undefined ? Number(v['compression-level']) : undefined,
      });
      const { id, chunkSize, packSize, compressionLevel, version } = repo.config;
      print(
        v.json,
        {
          url: repo.storage.url,
          id,
          version,
          chunkSize,
          packSize,
          compressionLevel,
          keyFile: path,
          keyFileCreated: !exists,
        },
        `created repository ${repo.storage.url} (format ${version}, ${formatBytes(chunkSize)} chunks)${exists ? '' : `\nnew key file ${path}: keep a copy somewhere safe; without it the backups cannot be read`}`,
      );
      return ExitCode.ok;
    },
  }),
  check: sub({
    summary: 'verify structure; with --read-data also decrypt and verify every chunk',
    usage: 'repo check --repo URL --key-file PATH [--read-data] [--manifest ID]...',
    options: {
      'read-data': { type: 'boolean', default: false },
      manifest: { type: 'string', multiple: true },
    },
    async run(v) {
      const repo = await openRepo(v);
      const { checkManifests, checkRepository } = await import('../repository/check.js');
      const only = v.manifest ?? [];
      const report =
        only.length > 0
          ? { packs: undefined, ...(await checkManifests(repo, only)) }
          : await checkRepository(repo, { readData: v['read-data'] });
      const readData = v['read-data'] || only.length > 0;
      const lines = [
        `${report.manifests} manifests${report.packs === undefined ? '' : `, ${report.packs} packs`}, ${report.chunks} chunks in use` +
          (readData
            ? `; verified ${report.chunksVerified} chunks (${formatBytes(report.bytesVerified)})`
            : ''),
        ...report.problems.map(
          (p) =>
            `damaged: ${p.object}: ${p.problem}; affects ${p.affectedManifests.length > 0 ? p.affectedManifests.join(', ') : 'no recovery point'}`,
        ),
        report.problems.length === 0 ? 'no problems found' : `${report.problems.length} problems found`,
      ];
      print(v.json, report, lines.join('\n'));
      return report.problems.length === 0 ? ExitCode.ok : ExitCode.failed;
    },
  }),
  copy: sub({
    summary: 'copy recovery points to another repository, sending only the chunks it lacks',
    usage:
      'repo copy --repo URL --key-file PATH --to URL [--to-key-file PATH] [--manifest ID]...\n' +
      '          [--bandwidth-mib N] [--checkpoint-seconds 60]\n' +
      '  The target must be empty (it becomes a twin sharing the source key) or an earlier copy\n' +
      '  target of this repository. --to-key-file defaults to --key-file. Killed midway, run it\n' +
      '  again: what arrived is not sent twice.',
    options: {
      to: { type: 'string' },
      'to-key-file': { type: 'string' },
      manifest: { type: 'string', multiple: true },
      'bandwidth-mib': { type: 'string' },
      'checkpoint-seconds': { type: 'string' },
    },
    async run(v) {
      const source = await openRepo(v);
      const targetStorage = openStorage(required(v.to, '--to'));
      const targetKey = await readKeyFile(v['to-key-file'] ?? keyFilePath(v));
      const target = (await targetStorage.stat(CONFIG_KEY))
        ? await Repository.open(targetStorage, targetKey)
        : await Repository.initCopyOf(targetStorage, targetKey, source);
      const bandwidth = v['bandwidth-mib'] ? Number(v['bandwidth-mib']) : undefined;
      if (bandwidth !== undefined && !(bandwidth > 0)) {
        throw new UserError(
          `--bandwidth-mib must be a positive number, not '${v['bandwidth-mib']}'`,
          ExitCode.usage,
        );
      }
      const bar = v.json ? undefined : progressBar('copy');
      const { copyManifests } = await import('../copy/copy-point.js');
      const report = await copyManifests(source, target, v.manifest ?? (await source.listManifestIds()), {
        ...(bandwidth ? { bytesPerSecond: bandwidth * 1024 * 1024 } : {}),
        ...(v['checkpoint-seconds'] ? { checkpointMs: Number(v['checkpoint-seconds']) * 1000 } : {}),
        onProgress: bar
          ? (p) => {
              bar.update(p.chunksDone, p.chunksToCopy);
            }
          : undefined,
      });
      bar?.end();
      print(
        v.json,
        report,
        `copied ${report.manifests.length} manifests to ${target.storage.url}: ${report.chunksCopied} chunks sent (${formatBytes(report.bytesSent)}), ${report.chunksPresent} already there`,
      );
      return ExitCode.ok;
    },
  }),
  heal: sub({
    summary: 'repair damaged or missing chunks and manifests from an offsite copy of this repository',
    usage:
      'repo heal --repo URL --key-file PATH --from COPY_URL [--from-key-file PATH]\n' +
      '  Runs check --read-data, moves every chunk of a damaged pack into new packs (lost ones\n' +
      '  fetched from the copy), removes the damaged packs and lists what could not be healed.',
    options: { from: { type: 'string' }, 'from-key-file': { type: 'string' } },
    async run(v) {
      const repo = await openRepo(v);
      const copy = await Repository.open(
        openStorage(required(v.from, '--from')),
        await readKeyFile(v['from-key-file'] ?? keyFilePath(v)),
      );
      const { healFromCopy } = await import('../copy/heal.js');
      const report = await healFromCopy(repo, copy);
      const lines = [
        `${report.found.length} problems found; ${report.packsReplaced.length} damaged packs replaced, ${report.chunksFromCopy} chunks fetched from the copy, ${report.chunksMoved} moved, ${report.manifestsReplaced.length} manifests replaced`,
        ...report.remaining.map(
          (p) =>
            `not healed: ${p.object}: ${p.problem}; affects ${p.affectedManifests.length > 0 ? p.affectedManifests.join(', ') : 'no recovery point'}`,
        ),
        ...(report.unusedDamage.length > 0
          ? [`${report.unusedDamage.length} damaged objects no recovery point uses: 'repo gc' removes them`]
          : []),
        report.remaining.length === 0
          ? 'every recovery point is intact'
          : `${report.remaining.length} problems remain`,
      ];
      print(v.json, report, lines.join('\n'));
      return report.remaining.length === 0 ? ExitCode.ok : ExitCode.failed;
    },
  }),
  gc: sub({
    summary: 'delete packs no recovery point uses (after a grace period)',
    usage: 'repo gc --repo URL --key-file PATH [--grace DURATION (default 24h)]',
    options: { grace: { type: 'string' } },
    async run(v) {
      const repo = await openRepo(v);
      const { DEFAULT_GRACE_MS, collectGarbage } = await import('../repository/gc.js');
      const report = await collectGarbage(repo, {
        graceMs: v.grace !== undefined ? parseDuration(v.grace) : DEFAULT_GRACE_MS,
      });
      print(
        v.json,
        report,
        `${report.packs} packs: ${report.packsCondemned} newly unused, ${report.packsDeleted} deleted (${formatBytes(report.bytesFreed)} freed), ${report.temporaryFilesDeleted} stale temporary files removed${report.objectsLocked > 0 ? `, ${report.objectsLocked} objects kept by their immutability lock` : ''}`,
      );
      return ExitCode.ok;
    },
  }),
  stats: sub({
    summary: 'sizes, deduplication and counts',
    usage: 'repo stats --repo URL --key-file PATH',
    options: {},
    async run(v) {
      const repo = await openRepo(v);
      const { takeInventory } = await import('../repository/inventory.js');
      const inv = await takeInventory(repo);
      const stored = [...inv.packs.values()].reduce((n, p) => n + p.size, 0);
      const logical = inv.manifests.reduce(
        (n, m) => n + m.chunks.filter((c) => c !== null).length * m.chunkSize,
        0,
      );
      const stats = {
        url: repo.storage.url,
        formatVersion: repo.config.version,
        manifests: inv.manifests.length,
        packs: inv.packs.size,
        chunks: inv.users.size,
        storedBytes: stored,
        logicalBytes: logical,
        dedupRatio: stored > 0 ? logical / stored : 0,
      };
      print(
        v.json,
        stats,
        `${stats.manifests} recovery points, ${stats.chunks} chunks in ${stats.packs} packs\nstored ${formatBytes(stored)} for ${formatBytes(logical)} of allocated disk data (${stats.dedupRatio.toFixed(2)}x)`,
      );
      return ExitCode.ok;
    },
  }),
};

const diskSubcommands: Record<string, Sub<ParseArgsConfig['options']>> = {
  backup: sub({
    summary: 'back up a VHDX, VHD or raw disk; only changed chunks are stored',
    usage:
      'disk backup --repo URL --key-file PATH --disk PATH [--name NAME] [--changed-ranges FILE [--parent ID]] [--full] [--threads N] [--no-catalog]',
    options: {
      disk: { type: 'string' },
      name: { type: 'string' },
      'changed-ranges': { type: 'string' },
      parent: { type: 'string' },
      full: { type: 'boolean', default: false },
      threads: { type: 'string' },
      'no-catalog': { type: 'boolean', default: false },
    },
    async run(v) {
      const diskPath = required(v.disk, '--disk');
      const repo = await openRepo(v);
      let changedRanges;
      if (v['changed-ranges']) {
        const disk = await openVirtualDisk(diskPath);
        const size = disk.size;
        await disk.close();
        changedRanges = await readChangedRanges(v['changed-ranges'], size).catch((err: unknown) => {
          throw new UserError(err instanceof Error ? err.message : String(err), ExitCode.usage);
        });
      }
      const bar = v.json ? undefined : progressBar('backup');
      const manifest = await backupDisk(repo, diskPath, {
        name: v.name,
        changedRanges,
        parentId: v.parent,
        full: v.full,
        threads: parseThreads(v.threads),
        onProgress: bar?.update,
      });
      bar?.end();
      // Item-level recovery: a file catalog per NTFS volume, so `files find` needs no disk reads.
      const catalog = v['no-catalog']
        ? undefined
        : await (await import('../ilr/catalog-store.js')).catalogRecoveryPoint(repo, manifest);
      if (catalog?.warning) {
        process.stderr.write(`warning: ${catalog.warning}\n`);
      }
      const { stats } = manifest;
      const summary = {
        manifest: manifest.id,
        name: manifest.disk.name,
        virtualSize: manifest.disk.virtualSize,
        changeDetection: manifest.changeDetection,
        bytesRead: stats.bytesRead,
        bytesChanged: stats.bytesChanged,
        bytesUploaded: stats.bytesUploaded,
        seconds: stats.seconds,
        catalogedFiles: catalog?.catalogs.reduce((n, c) => n + c.files, 0) ?? 0,
      };
      print(
        v.json,
        summary,
        [
          `manifest ${manifest.id} (${manifest.disk.name}, ${manifest.changeDetection})`,
          `virtual size ${formatBytes(summary.virtualSize)}; read ${formatBytes(stats.bytesRead)}, changed ${formatBytes(stats.bytesChanged)}, uploaded ${formatBytes(stats.bytesUploaded)} in ${stats.seconds.toFixed(2)} s`,
        ].join('\n'),
      );
      return ExitCode.ok;
    },
  }),
  restore: sub({
    summary: 'rebuild a disk from a recovery point as raw or dynamic VHDX',
    usage:
      'disk restore --repo URL --key-file PATH --manifest ID|latest [--name NAME] --out PATH [--format raw|vhdx]',
    options: {
      manifest: { type: 'string' },
      name: { type: 'string' },
      out: { type: 'string' },
      format: { type: 'string', default: 'raw' },
    },
    async run(v) {
      const format = v.format;
      if (format !== 'raw' && format !== 'vhdx') {
        throw new UserError(`--format must be raw or vhdx, not '${format}'`, ExitCode.usage);
      }
      const wanted = required(v.manifest, '--manifest');
      const out = required(v.out, '--out');
      const repo = await openRepo(v);
      const id = wanted === 'latest' ? await latestId(repo, v.name) : wanted;
      const bar = v.json ? undefined : progressBar('restore');
      const { restoreDisk } = await import('./restore.js');
      const result = await restoreDisk(repo, id, out, { format, onProgress: bar?.update });
      bar?.end();
      const summary = {
        manifest: id,
        out,
        format,
        virtualSize: result.manifest.disk.virtualSize,
        bytesWritten: result.bytesWritten,
        bytesFetched: result.bytesFetched,
        seconds: result.seconds,
      };
      print(
        v.json,
        summary,
        `restored ${id} to ${out} (${format}, ${formatBytes(summary.virtualSize)}) in ${result.seconds.toFixed(2)} s`,
      );
      return ExitCode.ok;
    },
  }),
  ls: sub({
    summary: 'list recovery points (manifests), oldest first',
    usage: 'disk ls --repo URL --key-file PATH [--name NAME]',
    options: { name: { type: 'string' } },
    async run(v) {
      const repo = await openRepo(v);
      const rows = [];
      for (const id of await repo.listManifestIds()) {
        const m = await repo.loadManifest(id);
        if (v.name === undefined || m.disk.name === v.name) {
          rows.push({
            id,
            name: m.disk.name,
            createdAt: m.createdAt,
            virtualSize: m.disk.virtualSize,
            changeDetection: m.changeDetection,
            host: m.host,
            parent: m.parent,
          });
        }
      }
      print(
        v.json,
        rows,
        rows
          .map(
            (r) => `${r.id}  ${r.name}  ${formatBytes(r.virtualSize)}  ${r.changeDetection}  ${r.createdAt}`,
          )
          .join('\n'),
      );
      return ExitCode.ok;
    },
  }),
  forget: sub({
    summary: 'remove a recovery point; `repo gc` frees its data later',
    usage: 'disk forget --repo URL --key-file PATH --manifest ID',
    options: { manifest: { type: 'string' } },
    async run(v) {
      const id = required(v.manifest, '--manifest');
      const repo = await openRepo(v);
      await repo.deleteManifest(id);
      print(v.json, { forgotten: id }, `forgot ${id}`);
      return ExitCode.ok;
    },
  }),
};

function group(
  name: string,
  summary: string,
  subs: Record<string, Sub<ParseArgsConfig['options']>>,
): Command {
  const usage = (): string =>
    `Usage: shadowkeep ${name} <subcommand> [options]\n\n${Object.entries(subs)
      .map(([n, s]) => `  ${n.padEnd(8)} ${s.summary}\n           ${s.usage}`)
      .join(
        '\n',
      )}\n\nCommon: --repo URL (or SHADOWKEEP_REPO), --key-file PATH (or SHADOWKEEP_KEY_FILE), --json\n\n${STORAGE_URL_HELP}\n`;
  return {
    name,
    summary,
    async run(args) {
      const [subName, ...rest] = args;
      const s = subName === undefined ? undefined : subs[subName];
      if (!s) {
        process.stdout.write(usage());
        return subName === undefined || subName === '--help' || subName === '-h'
          ? ExitCode.ok
          : ExitCode.usage;
      }
      let values;
      try {
        values = parseArgs({
          args: rest,
          options: { ...common, ...s.options },
          strict: true,
          allowPositionals: false,
        }).values;
      } catch (err) {
        throw new UserError(
          `${err instanceof Error ? err.message : String(err)}\nusage: shadowkeep ${s.usage}`,
          ExitCode.usage,
        );
      }
      if (values.help) {
        process.stdout.write(`usage: shadowkeep ${s.usage}\n`);
        return ExitCode.ok;
      }
      try {
        return await s.run(values);
      } catch (err) {
        if (err instanceof DiskFormatError || err instanceof RepositoryError || err instanceof StorageError) {
          throw new UserError(err.message);
        }
        throw err;
      }
    },
  };
}

export const repoCommand = group(
  'repo',
  'create, check, garbage-collect and inspect a backup repository',
  repoSubcommands,
);
export const diskCommand = group('disk', 'back up, restore and list virtual disks', diskSubcommands);
