/**
 * A cross-process mutex on a folder, so several simulated host processes and guest writers sharing
 * one "CSV" never interleave changes to a VM. `mkdir` is atomic on every local file system; a lock
 * whose holder died (same machine, pid gone) or that was never completed is taken over by renaming
 * it away first, which only one contender can win.
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { HypervisorError } from '../types.js';

const pollMs = 5;
/** A lock folder with no holder file for this long was abandoned between mkdir and write. */
const incompleteAfterMs = 5_000;

interface Holder {
  pid: number;
  host: string;
}

export async function withLock<T>(
  dir: string,
  what: string,
  fn: () => Promise<T>,
  timeoutMs = 60_000,
): Promise<T> {
  const lock = `${dir}/.lock`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (err) {
      if (isCode(err, 'ENOENT')) {
        throw new HypervisorError('NotFound', `${what} does not exist`);
      }
      if (!isCode(err, 'EEXIST')) {
        throw err;
      }
    }
    if (await abandoned(lock)) {
      const away = `${lock}.stale-${randomUUID()}`;
      // Losing this race to another contender is fine: it took the lock over first.
      await rename(lock, away).then(
        () => rm(away, { recursive: true, force: true }),
        () => undefined,
      );
      continue;
    }
    if (Date.now() > deadline) {
      throw new HypervisorError('Busy', `${what} is locked by another operation`, true);
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  const holder: Holder = { pid: process.pid, host: hostname() };
  await writeFile(`${lock}/holder`, JSON.stringify(holder));
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

async function abandoned(lock: string): Promise<boolean> {
  let holder: Partial<Holder> | undefined;
  try {
    holder = JSON.parse(await readFile(`${lock}/holder`, 'utf8')) as Partial<Holder>;
  } catch (err) {
    // Not written yet, or caught half-written (writeFile is not atomic): judge by the lock's age.
    if (!isCode(err, 'ENOENT') && !(err instanceof SyntaxError)) {
      throw err;
    }
    const age = await stat(lock).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    return age > incompleteAfterMs;
  }
  if (holder.host !== hostname() || typeof holder.pid !== 'number') {
    return false;
  }
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (err) {
    return isCode(err, 'ESRCH');
  }
}

export function isCode(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}
