/**
 * `make bench-copy`: offsite copy throughput and the bytes a second recovery point sends, against
 * restic's `copy` between two repositories sharing chunker parameters, on the same disk image.
 *   node dist/hack/bench/copy.js [--size-mib 1024] [--change-percent 2] [--work DIR] [--restic PATH]
 */
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { copyManifests } from '../../controller/copy/copy-point.js';
import { backupDisk } from '../../controller/datapath/backup.js';
import { Repository } from '../../controller/repository/repository.js';
import { FilesystemStorage } from '../../controller/storage/filesystem.js';

const MiB = 1024 * 1024;
const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '1024' },
    'change-percent': { type: 'string', default: '2' },
    work: { type: 'string', default: '/tmp/shadowkeep-bench-copy' },
    restic: { type: 'string', default: join(process.cwd(), '.cache/bin/restic') },
  },
});
const size = Number(values['size-mib']) * MiB;
const changePercent = Number(values['change-percent']);
const work = values.work;

async function du(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir, { recursive: true })) {
    const s = await stat(join(dir, name)).catch(() => undefined);
    total += s?.isFile() ? s.size : 0;
  }
  return total;
}

/** A disk two-thirds full of incompressible data, the rest never written (zeros). */
async function makeDisk(path: string): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.truncate(size);
    for (let at = 0; at < (size * 2) / 3; at += 4 * MiB) {
      await handle.write(randomBytes(Math.min(4 * MiB, size - at)), 0, undefined, at);
    }
  } finally {
    await handle.close();
  }
}

/** Scattered 64 KiB writes covering changePercent of the disk, like a working guest. */
async function changeDisk(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    const writes = Math.round((size * changePercent) / 100 / (64 * 1024));
    for (let i = 0; i < writes; i++) {
      const at = Math.floor(Math.random() * (size / (64 * 1024))) * 64 * 1024;
      await handle.write(randomBytes(64 * 1024), 0, undefined, at);
    }
  } finally {
    await handle.close();
  }
}

interface Row {
  tool: string;
  step: string;
  seconds: number;
  bytesSent: number;
  mibPerSecond: number;
}

async function timed(tool: string, step: string, target: string, run: () => Promise<unknown>): Promise<Row> {
  const before = await du(target).catch(() => 0);
  const started = performance.now();
  await run();
  const seconds = (performance.now() - started) / 1000;
  const bytesSent = (await du(target)) - before;
  return { tool, step, seconds, bytesSent, mibPerSecond: size / MiB / seconds };
}

async function main(): Promise<void> {
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const disk = join(work, 'disk.raw');
  await makeDisk(disk);
  const rows: Row[] = [];

  // Shadowkeep: two recovery points in the primary, then each copied to an offsite twin.
  const key = randomBytes(32);
  const primary = await Repository.init(new FilesystemStorage(join(work, 'sk-primary')), key);
  const keep = (state: string) => execa('cp', ['--sparse=always', disk, join(work, state)]);
  const restoreState = (state: string) => execa('cp', ['--sparse=always', join(work, state), disk]);
  await keep('state-1.raw');
  const first = await backupDisk(primary, disk, { name: 'bench', full: true });
  await changeDisk(disk);
  await keep('state-2.raw');
  const second = await backupDisk(primary, disk, { name: 'bench', parentId: first.id });
  const offsiteDir = join(work, 'sk-offsite');
  const offsite = await Repository.initCopyOf(new FilesystemStorage(offsiteDir), key, primary);
  rows.push(
    await timed('shadowkeep', 'first copy', offsiteDir, () => copyManifests(primary, offsite, [first.id])),
  );
  rows.push(
    await timed('shadowkeep', 'second copy', offsiteDir, () => copyManifests(primary, offsite, [second.id])),
  );

  // restic: the same two states of the disk as two snapshots, copied with `restic copy`.
  const restic = values.restic;
  const env = { ...process.env, RESTIC_PASSWORD: 'bench', RESTIC_FROM_PASSWORD: 'bench' };
  const a = join(work, 'restic-a');
  const b = join(work, 'restic-b');
  const run = (...args: string[]) => execa(restic, ['-q', ...args], { env });
  await run('init', '--repository-version', '2', '-r', a);
  await restoreState('state-1.raw');
  await run('backup', '-r', a, '--compression', 'auto', disk);
  await restoreState('state-2.raw');
  await run('backup', '-r', a, '--compression', 'auto', disk);
  const snapshots = JSON.parse((await run('snapshots', '-r', a, '--json')).stdout) as { id: string }[];
  await run('init', '--repository-version', '2', '-r', b, '--from-repo', a, '--copy-chunker-params');
  rows.push(
    await timed('restic', 'first copy', b, () =>
      run('copy', '-r', b, '--from-repo', a, snapshots[0]?.id ?? ''),
    ),
  );
  rows.push(
    await timed('restic', 'second copy', b, () =>
      run('copy', '-r', b, '--from-repo', a, snapshots[1]?.id ?? ''),
    ),
  );

  const line = (r: Row) =>
    `${r.tool.padEnd(12)} ${r.step.padEnd(12)} ${r.seconds.toFixed(2).padStart(8)} s ${(r.bytesSent / MiB).toFixed(1).padStart(9)} MiB sent ${r.mibPerSecond.toFixed(0).padStart(6)} MiB/s of disk`;
  process.stdout.write(
    `offsite copy of a ${size / MiB} MiB disk (2/3 data), second point after ${changePercent}% scattered changes\n`,
  );
  rows.forEach((r) => process.stdout.write(`${line(r)}\n`));
  const ratio = (step: string, field: 'seconds' | 'bytesSent') => {
    const ours = rows.find((r) => r.tool === 'shadowkeep' && r.step === step)?.[field] ?? 0;
    const theirs = rows.find((r) => r.tool === 'restic' && r.step === step)?.[field] ?? 0;
    return theirs > 0 ? ours / theirs : NaN;
  };
  process.stdout.write(
    `ratios shadowkeep/restic: first copy time ${ratio('first copy', 'seconds').toFixed(2)}, second copy time ${ratio('second copy', 'seconds').toFixed(2)}, second copy bytes ${ratio('second copy', 'bytesSent').toFixed(2)}\n`,
  );
  await mkdir('bench/results', { recursive: true });
  const file = `bench/results/copy-${new Date().toISOString().replace(/[:.]/g, '')}.json`;
  await writeFile(file, JSON.stringify({ size, changePercent, rows }, null, 2));
  process.stdout.write(`saved ${file}\n`);
  await rm(work, { recursive: true, force: true });
}

await main();
