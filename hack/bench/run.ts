/**
 * Benchmark runner (`make bench`, through hack/bench.sh): backs up the data set made by
 * make-dataset.sh with Shadowkeep and its peers, through several rounds of in-place changes,
 * then restores; prints a table and saves JSON under bench/results/. Not a test: it measures.
 *   node dist/hack/bench/run.js --work DIR [--rounds N] [--results DIR] [--tools NAME,...]
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

interface Measurement {
  wall: number;
  user: number;
  sys: number;
  maxRssKiB: number;
  /** Bytes the command read through read() (page cache included) and from the block device. */
  rchar: number;
  readBytes: number;
  repoBytes: number;
  /** One-minute load average just before the command: the CPU is shared with other work. */
  loadBefore: number;
  ok: boolean;
  note?: string;
}

interface Tool {
  name: string;
  description: string;
  repo: string;
  init: string;
  backup: (round: number, ranges: string | undefined) => string;
  restore: (out: string) => string;
  /** Path of the restored disk inside `out`, and how to compare it with the source. */
  verify: (out: string, source: string) => string;
}

const { values } = parseArgs({
  options: {
    work: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    results: { type: 'string', default: 'bench/results' },
    // A subset of the tools by name (e.g. shadowkeep-rct), to re-measure one change quickly.
    tools: { type: 'string' },
  },
});
const root = resolve(import.meta.dirname, '../../..');
const work = resolve(values.work ?? '/tmp/shadowkeep-bench');
const rounds = Number(values.rounds);
const dataset = JSON.parse(readFileSync(join(work, 'dataset.json'), 'utf8')) as {
  virtualSize: number;
  partitionOffset: number;
  partitionLength: number;
  guestDataBytes: number;
};
const src = join(work, 'src');
const disk = join(src, 'disk.vhdx');
const node = process.execPath;
// What users run: the launcher also sets the data path's memory settings.
const shadowkeep = join(root, 'bin/shadowkeep');
const cacheBin = join(root, '.cache/bin');

function sh(cmd: string, env: NodeJS.ProcessEnv = {}): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('bash', ['-c', cmd], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

function dirBytes(path: string): number {
  return Number(sh(`du -sb ${path} | cut -f1`).stdout.trim() || 0);
}

/** Drops the page cache when allowed (root), so every run reads the disk cold; says whether it did. */
function dropCaches(): boolean {
  return sh('sync && echo 3 > /proc/sys/vm/drop_caches').status === 0;
}

function measure(cmd: string, env: NodeJS.ProcessEnv, repo: string): Measurement {
  const loadBefore = loadavg()[0] ?? 0;
  const timeFile = join(work, 'time.out');
  // The command travels in the environment, so no shell expands it before the inner one runs.
  const r = sh(
    `/usr/bin/time -f "%e %U %S %M" -o ${timeFile} bash -c "$BENCH_CMD" >${join(work, 'last.log')} 2>&1; rc=$?; grep -E '^(rchar|read_bytes)' /proc/$$/io; exit $rc`,
    { ...env, BENCH_CMD: cmd },
  );
  const [wall, user, sys, rss] = (readFileSync(timeFile, 'utf8').trim().split('\n').at(-1) ?? '')
    .split(' ')
    .map(Number);
  const io = new Map(
    r.stdout
      .trim()
      .split('\n')
      .map((l): [string, number] => [l.split(': ')[0] ?? '', Number(l.split(': ')[1])]),
  );
  const m: Measurement = {
    wall: wall ?? 0,
    user: user ?? 0,
    sys: sys ?? 0,
    maxRssKiB: rss ?? 0,
    rchar: io.get('rchar') ?? 0,
    readBytes: io.get('read_bytes') ?? 0,
    repoBytes: dirBytes(repo),
    loadBefore,
    ok: r.status === 0,
  };
  if (!m.ok) {
    m.note = readFileSync(join(work, 'last.log'), 'utf8').slice(-400);
    process.stderr.write(`  FAILED: ${cmd}\n${m.note}\n`);
  }
  return m;
}

function tools(): Tool[] {
  const t: Tool[] = [];
  const repos = join(work, 'repos');
  // The data path alone, like the peers: --no-catalog skips the item-level-recovery file catalog
  // that `disk backup` builds by default (about 0.6-0.9 s per backup of this data set).
  const ours = (name: string, rct: boolean): Tool => ({
    name,
    description: rct
      ? 'Shadowkeep, changed-range list (RCT mode)'
      : 'Shadowkeep, checksum mode (256 KiB chunks, zstd 1, AES-256-GCM, keyed BLAKE3)',
    repo: join(repos, name),
    init: `${shadowkeep} repo init --repo ${join(repos, name)}`,
    backup: (_round, ranges) =>
      `${shadowkeep} disk backup --repo ${join(repos, name)} --disk ${disk} --name bench --no-catalog${rct && ranges ? ` --changed-ranges ${ranges}` : ''}`,
    restore: (out) =>
      `${shadowkeep} disk restore --repo ${join(repos, name)} --manifest latest --name bench --out ${out}/disk.vhdx --format vhdx`,
    verify: (out, source) => `qemu-img compare -q -f vhdx -F vhdx ${source} ${out}/disk.vhdx`,
  });
  t.push(ours('shadowkeep', false), ours('shadowkeep-rct', true));
  const restic = (name: string, bin: string): Tool => ({
    name,
    description: `${sh(`${bin} version`).stdout.trim().split(' compiled')[0] ?? name}, --compression auto (zstd), AES-256-CTR+Poly1305`,
    repo: join(repos, name),
    init: `${bin} init --repository-version 2`,
    backup: () => `${bin} backup -q --compression auto --pack-size 16 ${src}`,
    restore: (out) => `${bin} restore -q latest --target ${out}`,
    verify: (out, source) => `cmp ${source} ${out}${source}`,
  });
  if (sh('command -v restic').status === 0) {
    t.push(restic('restic-debian', 'restic'));
  }
  if (existsSync(join(cacheBin, 'restic'))) {
    t.push(restic('restic', join(cacheBin, 'restic')));
  }
  if (sh('command -v borg').status === 0) {
    t.push({
      name: 'borg',
      description: `${sh('borg --version').stdout.trim()}, repokey (AES-CTR + HMAC-SHA256), -C zstd,3, default buzhash chunker`,
      repo: join(repos, 'borg'),
      init: 'borg init -e repokey',
      backup: (round) => `borg create -C zstd,3 ::r${round} ${src}`,
      restore: (out) => `cd ${out} && borg extract ::r${rounds}`,
      verify: (out, source) => `cmp ${source} ${out}${source}`,
    });
  }
  if (existsSync(join(cacheBin, 'kopia'))) {
    const kopia = join(cacheBin, 'kopia');
    t.push({
      name: 'kopia',
      description: `kopia ${sh(`${kopia} --version`).stdout.trim().split(' ')[0] ?? ''}, AES256-GCM-HMAC-SHA256, BLAKE2B-256-128, zstd, DYNAMIC-4M-BUZHASH`,
      repo: join(repos, 'kopia'),
      init: `${kopia} repository create filesystem --path=${join(repos, 'kopia')} --encryption=AES256-GCM-HMAC-SHA256 --block-hash=BLAKE2B-256-128 && ${kopia} policy set --global --compression=zstd`,
      backup: () => `${kopia} snapshot create ${src} --no-progress`,
      restore: (out) =>
        `${kopia} snapshot restore $(${kopia} snapshot list ${src} --json | ${node} -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).at(-1).id))") ${out}`,
      verify: (out, source) => `cmp ${source} ${out}/disk.vhdx`,
    });
  }
  return t;
}

function envFor(tool: Tool): NodeJS.ProcessEnv {
  const cache = join(work, 'cache', tool.name);
  return {
    SHADOWKEEP_KEY_FILE: join(work, 'shadowkeep.key'),
    RESTIC_REPOSITORY: tool.repo,
    RESTIC_PASSWORD: 'bench',
    RESTIC_CACHE_DIR: cache,
    BORG_REPO: tool.repo,
    BORG_PASSPHRASE: 'bench',
    BORG_BASE_DIR: cache,
    KOPIA_PASSWORD: 'bench',
    KOPIA_CONFIG_PATH: join(work, 'cache', 'kopia.config'),
    KOPIA_CACHE_DIRECTORY: cache,
    KOPIA_CHECK_FOR_UPDATES: 'false',
    GOMAXPROCS: String(availableParallelism()),
  };
}

/** A deterministic PRNG, so every run mutates the same places. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Writes about 2% of the guest's data in place with qemu-io, each write from fresh random bytes. */
function mutate(round: number): { ranges: string; bytes: number } {
  const rand = prng(round * 7919);
  const dir = join(work, 'mutations');
  mkdirSync(dir, { recursive: true });
  const target = Math.round(dataset.guestDataBytes * 0.02);
  const sizes = [4096, 65536, 1048576];
  const commands: string[] = [];
  const ranges: { offset: number; length: number }[] = [];
  let bytes = 0;
  for (let i = 0; bytes < target; i++) {
    const length = sizes[Math.floor(rand() * sizes.length)] ?? 4096;
    const offset =
      dataset.partitionOffset + Math.floor((rand() * (dataset.partitionLength - length)) / 4096) * 4096;
    const file = join(dir, `r${round}-${i}.bin`);
    writeFileSync(file, randomBytes(length));
    commands.push('-c', `write -q -s ${file} ${offset} ${length}`);
    ranges.push({ offset, length });
    bytes += length;
  }
  for (let i = 0; i < commands.length; i += 200) {
    const r = spawnSync('qemu-io', ['-f', 'vhdx', ...commands.slice(i, i + 200), disk], { encoding: 'utf8' });
    if (r.status !== 0) {
      throw new Error(`qemu-io failed: ${r.stderr}`);
    }
  }
  for (let i = 1; i < commands.length; i += 2) {
    rmSync(commands[i]?.split(' ')[3] ?? '', { force: true });
  }
  const rangesFile = join(dir, `r${round}.json`);
  writeFileSync(rangesFile, JSON.stringify(ranges));
  return { ranges: rangesFile, bytes };
}

function hashLimit(): { perCoreBytesPerSecond: number; cores: number } {
  const out = sh('openssl speed -evp sha256 -bytes 1048576 -seconds 2 2>/dev/null | tail -1')
    .stdout.trim()
    .split(/\s+/);
  const kbps = Number((out.at(-1) ?? '0').replace('k', ''));
  return { perCoreBytesPerSecond: kbps * 1000, cores: availableParallelism() };
}

function fmt(n: number, digits = 1): string {
  return n.toFixed(digits);
}

function mb(n: number): string {
  return `${(n / 1e6).toFixed(0)} MB`;
}

// --- run ---
const available = tools();
const only = values.tools?.split(',');
const unknown = only?.filter((name) => !available.some((t) => t.name === name)) ?? [];
if (unknown.length > 0) {
  throw new Error(`unknown tool ${unknown.join(', ')}: use ${available.map((t) => t.name).join(', ')}`);
}
const all = available.filter((t) => !only || only.includes(t.name));
rmSync(join(work, 'repos'), { recursive: true, force: true });
rmSync(join(work, 'cache'), { recursive: true, force: true });
rmSync(join(work, 'shadowkeep.key'), { force: true });
mkdirSync(join(work, 'repos'), { recursive: true });
const cold = dropCaches();
const results: Record<
  string,
  {
    description: string;
    full?: Measurement;
    incrementals: Measurement[];
    restore?: Measurement;
    restoreVerified?: boolean;
  }
> = {};
for (const tool of all) {
  const r = sh(tool.init, envFor(tool));
  if (r.status !== 0) {
    process.stderr.write(`${tool.name}: init failed, skipped\n${r.stderr}\n`);
    continue;
  }
  results[tool.name] = { description: tool.description, incrementals: [] };
}
const changed: number[] = [];
for (let round = 0; round <= rounds; round++) {
  let ranges: string | undefined;
  if (round > 0) {
    const m = mutate(round);
    ranges = m.ranges;
    changed.push(m.bytes);
    process.stderr.write(`round ${round}: changed ${mb(m.bytes)} of guest data\n`);
  }
  for (const tool of all) {
    const entry = results[tool.name];
    if (!entry) {
      continue;
    }
    dropCaches();
    const m = measure(tool.backup(round, ranges), envFor(tool), tool.repo);
    process.stderr.write(
      `  ${tool.name} ${round === 0 ? 'full' : `incremental ${round}`}: ${fmt(m.wall)} s (load ${fmt(m.loadBefore, 2)})\n`,
    );
    if (round === 0) {
      entry.full = m;
    } else {
      entry.incrementals.push(m);
    }
  }
}
const sourceBytes = Number(sh(`stat -c %s ${disk}`).stdout.trim());
for (const tool of all) {
  const entry = results[tool.name];
  if (!entry) {
    continue;
  }
  const out = join(work, 'out', tool.name);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  dropCaches();
  // A restore is done when the disk is on disk: Shadowkeep syncs its output before renaming it
  // into place, the peers leave theirs in the page cache, so each timing ends with a sync of the
  // output's filesystem (restic's 2 GB still being written back was 1-1.4 s of it here).
  entry.restore = measure(`${tool.restore(out)} && sync -f ${out}`, envFor(tool), tool.repo);
  process.stderr.write(
    `  ${tool.name} restore: ${fmt(entry.restore.wall)} s (load ${fmt(entry.restore.loadBefore, 2)})\n`,
  );
  entry.restoreVerified = sh(tool.verify(out, disk)).status === 0;
  rmSync(out, { recursive: true, force: true });
}

const limit = hashLimit();
const report = {
  date: new Date().toISOString(),
  machine: {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memoryBytes: totalmem(),
    node: process.version,
    coldCache: cold,
  },
  note: 'CPU shared with other work during the run: treat figures as indicative',
  dataset: { ...dataset, vhdxBytes: sourceBytes, rounds, changedBytesPerRound: changed },
  sha256LimitBytesPerSecond: limit.perCoreBytesPerSecond * limit.cores,
  tools: results,
};
const resultsDir = resolve(root, values.results);
mkdirSync(resultsDir, { recursive: true });
const file = join(resultsDir, `${report.date.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify(report, null, 2) + '\n');

const avg = (xs: number[]): number => (xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const loads = Object.values(results).flatMap((r) =>
  [r.full, ...r.incrementals, r.restore].flatMap((m) => (m ? [m.loadBefore] : [])),
);
const rows = Object.entries(results).map(([name, r]) => {
  const inc = r.incrementals;
  const growth = inc.map(
    (m, i) => m.repoBytes - (i === 0 ? (r.full?.repoBytes ?? 0) : (inc[i - 1]?.repoBytes ?? 0)),
  );
  return [
    name,
    `${fmt(r.full?.wall ?? 0)} / ${fmt((r.full?.user ?? 0) + (r.full?.sys ?? 0))}`,
    `${fmt(avg(inc.map((m) => m.wall)), 2)} / ${fmt(avg(inc.map((m) => m.user + m.sys)), 2)}`,
    mb(avg(inc.map((m) => m.rchar))),
    mb(r.full?.repoBytes ?? 0),
    mb(avg(growth)),
    `${fmt(r.restore?.wall ?? 0)}${r.restoreVerified ? '' : ' (MISMATCH)'}`,
    `${fmt(Math.max(r.full?.maxRssKiB ?? 0, ...inc.map((m) => m.maxRssKiB), r.restore?.maxRssKiB ?? 0) / 1024, 0)} MiB`,
  ];
});
const header = [
  'tool',
  'full wall/CPU s',
  'incr wall/CPU s (avg)',
  'incr read (avg)',
  'repo after full',
  'growth/incr (avg)',
  'restore s (synced)',
  'peak RSS',
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
process.stdout.write(
  [
    `Data set: ${mb(dataset.virtualSize)} virtual disk, ${mb(dataset.guestDataBytes)} guest data, VHDX ${mb(sourceBytes)}; ${rounds} rounds changing ${mb(avg(changed))} each (avg)`,
    `Machine: ${report.machine.cpu}, ${report.machine.cores} cores, ${cold ? 'cold' : 'warm'} cache; SHA-256 limit ${mb(report.sha256LimitBytesPerSecond)}/s`,
    `Load average (1 min) before each command: ${fmt(Math.min(...loads), 2)}-${fmt(Math.max(...loads), 2)}`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    `saved ${file}`,
    '',
  ].join('\n'),
);
