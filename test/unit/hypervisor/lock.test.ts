import { expect } from 'chai';
import { execa } from 'execa';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { withLock } from '../../../controller/hypervisor/filehost/lock.js';

describe('filehost VM lock', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(`${tmpdir()}/shadowkeep-lock-`);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs critical sections one at a time', async () => {
    const events: string[] = [];
    const section = (name: string) => () =>
      withLock(dir, 'vm', async () => {
        events.push(`${name} in`);
        await new Promise((r) => setTimeout(r, 20));
        events.push(`${name} out`);
      });
    await Promise.all([section('a')(), section('b')()]);
    expect(events).to.satisfy(
      (e: string[]) => e.join() === 'a in,a out,b in,b out' || e.join() === 'b in,b out,a in,a out',
    );
  });

  it('takes over a lock whose holder died', async () => {
    const dead = await execa(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    await mkdir(`${dir}/.lock`);
    await writeFile(`${dir}/.lock/holder`, JSON.stringify({ pid: Number(dead.stdout), host: hostname() }));
    expect(await withLock(dir, 'vm', () => Promise.resolve('taken'), 2_000)).to.equal('taken');
  });

  it('waits for a live holder and then gives up with a retryable error', async () => {
    await mkdir(`${dir}/.lock`);
    await writeFile(`${dir}/.lock/holder`, JSON.stringify({ pid: process.pid, host: hostname() }));
    const err = await withLock(dir, 'VM sql01', () => Promise.resolve(), 100).catch((e: unknown) => e);
    expect(err).to.include({
      code: 'Busy',
      transient: true,
      message: 'VM sql01 is locked by another operation',
    });
  });
});
