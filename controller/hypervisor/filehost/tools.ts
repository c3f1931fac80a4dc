/**
 * The real disk tools the filehost is built on (qemu-img, qemu-io, mkntfs, ntfscp, sgdisk). Arguments
 * go to execve as an array, never through a shell, so paths with any characters are safe.
 */
import { execa } from 'execa';
import { HypervisorError } from '../types.js';

export async function runTool(command: string, args: readonly string[], timeoutMs = 60_000): Promise<string> {
  const result = await execa(command, args, { timeout: timeoutMs, reject: false, stripFinalNewline: true });
  if (result.timedOut) {
    throw new HypervisorError('Timeout', `${command} did not finish within ${timeoutMs} ms`, true);
  }
  if (result.exitCode !== 0) {
    const detail = (result.stderr || result.stdout).trim().split('\n').slice(-3).join(' ');
    throw new HypervisorError(
      'HostError',
      `${command} ${args[0] ?? ''} failed (exit ${result.exitCode ?? 'signal'}): ${detail}`,
    );
  }
  return result.stdout;
}

/** Writes `data` at a virtual-disk offset of a VHDX, as a guest's block write would. */
export async function writeVhdx(path: string, offset: number, data: Buffer, scratch: string): Promise<void> {
  const { writeFile, rm } = await import('node:fs/promises');
  await writeFile(scratch, data);
  try {
    await runTool('qemu-io', ['-f', 'vhdx', '-c', `write -q -s ${scratch} ${offset} ${data.length}`, path]);
  } finally {
    await rm(scratch, { force: true });
  }
}

/** Converts a VHDX to a raw image: how tests and the sim read a disk's virtual bytes. */
export async function vhdxToRaw(path: string, rawPath: string): Promise<void> {
  await runTool('qemu-img', ['convert', '-f', 'vhdx', '-O', 'raw', path, rawPath]);
}
