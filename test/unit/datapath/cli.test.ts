import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually } from '../../support/eventually.js';
import { MiB, convertImage, makeRawImage, tempDir, type TempDir } from '../../support/disk-images.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '../../../controller/cli/main.js');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function shadowkeep(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { child: ReturnType<typeof spawn>; done: Promise<Run> } {
  const child = spawn(process.execPath, [cli, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const done = new Promise<Run>((resolve) => {
    child.on('close', (code, signal) => {
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done };
}

describe('the repo and disk commands', function () {
  // Real qemu images and child processes: generous for CI's 2 shared cores.
  this.timeout(120_000);
  let dir: TempDir;
  let env: NodeJS.ProcessEnv;
  let repoArgs: string[];

  before(async () => {
    dir = await tempDir();
    env = { SHADOWKEEP_KEY_FILE: dir.file('key') };
    repoArgs = ['--repo', `file://${dir.file('repo')}`];
    const init = await shadowkeep(['repo', 'init', ...repoArgs, '--pack-size', '1MiB', '--json'], env).done;
    expect(init.code, init.stderr).to.equal(0);
    expect((JSON.parse(init.stdout) as { keyFileCreated: boolean }).keyFileCreated).to.be.true;
  });
  after(() => dir.remove());

  it('backs up with --json, printing the manifest id and byte counts', async () => {
    await makeRawImage(dir.file('small.raw'), 16 * MiB, [{ offset: 0, length: 3 * MiB }]);
    await convertImage(dir.file('small.raw'), dir.file('small.vhdx'), 'vhdx');
    const r = await shadowkeep(
      ['disk', 'backup', ...repoArgs, '--disk', dir.file('small.vhdx'), '--json'],
      env,
    ).done;
    expect(r.code, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).to.include({ name: 'small', virtualSize: 16 * MiB, bytesChanged: 3 * MiB });
    expect(out.manifest).to.be.a('string');
    expect(out.bytesUploaded).to.be.greaterThan(3 * MiB);
  });

  it('a backup killed with SIGKILL mid-run leaves earlier recovery points readable and the repository valid', async () => {
    await makeRawImage(dir.file('big.raw'), 64 * MiB, [{ offset: 0, length: 64 * MiB }]);
    const before = JSON.parse((await shadowkeep(['disk', 'ls', ...repoArgs, '--json'], env).done).stdout) as {
      id: string;
    }[];
    const { child, done } = shadowkeep(
      ['disk', 'backup', ...repoArgs, '--disk', dir.file('big.raw'), '--threads', '1'],
      env,
    );
    // Kill once packs of the new backup are being written, before its manifest can exist.
    const packsBefore = await countPacks(dir.file('repo'));
    await eventually(
      async () => {
        if ((await countPacks(dir.file('repo'))) < packsBefore + 2) {
          throw new Error('no new packs yet');
        }
      },
      { timeoutMs: 30_000, intervalMs: 10, what: 'backup writing packs' },
    );
    child.kill('SIGKILL');
    expect((await done).signal).to.equal('SIGKILL');

    const after = JSON.parse((await shadowkeep(['disk', 'ls', ...repoArgs, '--json'], env).done).stdout) as {
      id: string;
    }[];
    expect(after.map((m) => m.id)).to.deep.equal(before.map((m) => m.id));
    const check = await shadowkeep(['repo', 'check', ...repoArgs, '--read-data'], env).done;
    expect(check.code, check.stdout + check.stderr).to.equal(0);
    const restore = await shadowkeep(
      ['disk', 'restore', ...repoArgs, '--manifest', before[0]!.id, '--out', dir.file('small.out')],
      env,
    ).done;
    expect(restore.code, restore.stderr).to.equal(0);
    expect((await readFile(dir.file('small.out'))).equals(await readFile(dir.file('small.raw')))).to.be.true;

    const gc = await shadowkeep(['repo', 'gc', ...repoArgs, '--grace', '0', '--json'], env).done;
    expect((JSON.parse(gc.stdout) as { packsDeleted: number }).packsDeleted).to.be.greaterThan(0);
    expect((await shadowkeep(['repo', 'check', ...repoArgs, '--read-data'], env).done).code).to.equal(0);
  });

  it('a copy killed with SIGKILL midway resumes without sending what had arrived, and the copy checks clean', async () => {
    await makeRawImage(dir.file('copy.raw'), 24 * MiB, [{ offset: 0, length: 24 * MiB }]);
    const backup = await shadowkeep(
      ['disk', 'backup', ...repoArgs, '--disk', dir.file('copy.raw'), '--json'],
      env,
    ).done;
    expect(backup.code, backup.stderr).to.equal(0);
    const to = ['--to', `file://${dir.file('offsite')}`, '--json'];
    // 8 MiB/s with a checkpoint every second: about three seconds of copying, indexed as it goes.
    const { child, done } = shadowkeep(
      ['repo', 'copy', ...repoArgs, ...to, '--bandwidth-mib', '8', '--checkpoint-seconds', '1'],
      env,
    );
    await eventually(
      async () => {
        const index = await readdir(dir.file('offsite/index')).catch(() => []);
        if (index.length === 0) {
          throw new Error('nothing indexed in the target yet');
        }
      },
      { timeoutMs: 30_000, intervalMs: 20, what: 'the copy checkpointing' },
    );
    child.kill('SIGKILL');
    expect((await done).signal).to.equal('SIGKILL');

    const resumed = await shadowkeep(['repo', 'copy', ...repoArgs, ...to], env).done;
    expect(resumed.code, resumed.stderr).to.equal(0);
    const report = JSON.parse(resumed.stdout) as { chunksPresent: number; chunksCopied: number };
    expect(report.chunksPresent).to.be.greaterThan(0);
    const offsite = ['--repo', `file://${dir.file('offsite')}`];
    const check = await shadowkeep(['repo', 'check', ...offsite, '--read-data'], env).done;
    expect(check.code, check.stdout + check.stderr).to.equal(0);
    const listed = await shadowkeep(['disk', 'ls', ...offsite, '--json'], env).done;
    const source = await shadowkeep(['disk', 'ls', ...repoArgs, '--json'], env).done;
    expect(JSON.parse(listed.stdout)).to.deep.equal(JSON.parse(source.stdout));
  });

  it('heals every damaged pack of the repository from its offsite copy', async () => {
    // The copy test above left a complete copy in offsite/.
    const packs = (await readdir(dir.file('repo/packs'), { recursive: true })).filter((n) => n.includes('/'));
    for (const pack of packs) {
      const path = dir.file(`repo/packs/${pack}`);
      const bytes = await readFile(path);
      bytes[0] = (bytes[0] ?? 0) ^ 0xff;
      await writeFile(path, bytes);
    }
    const broken = await shadowkeep(['repo', 'check', ...repoArgs, '--read-data'], env).done;
    expect(broken.code).to.equal(1);
    const heal = await shadowkeep(
      ['repo', 'heal', ...repoArgs, '--from', `file://${dir.file('offsite')}`],
      env,
    ).done;
    expect(heal.code, heal.stdout + heal.stderr).to.equal(0);
    expect(heal.stdout).to.match(/damaged packs replaced, \d+ chunks fetched from the copy/);
    expect(heal.stdout).to.include('every recovery point is intact');
    await shadowkeep(['repo', 'gc', ...repoArgs, '--grace', '0'], env).done;
    const check = await shadowkeep(['repo', 'check', ...repoArgs, '--read-data'], env).done;
    expect(check.code, check.stdout).to.equal(0);
  });

  it('says which option is missing and exits with the usage code', async () => {
    const r = await shadowkeep(['disk', 'restore', ...repoArgs], env).done;
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/--manifest is required/);
  });

  it('names the problem when the disk is not a valid VHDX, and exits 1', async () => {
    const bad = dir.file('bad.vhdx');
    await writeFile(bad, Buffer.alloc(2 * MiB));
    const r = await shadowkeep(['disk', 'backup', ...repoArgs, '--disk', bad], env).done;
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/bad\.vhdx: not a VHDX file: missing 'vhdxfile' signature/);
  });
});

async function countPacks(repo: string): Promise<number> {
  const entries = await readdir(join(repo, 'packs'), { recursive: true }).catch(() => []);
  return entries.filter((e) => /[0-9a-f]{32}$/.test(e)).length;
}
