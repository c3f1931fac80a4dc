import { open, realpath } from 'node:fs/promises';
import { extname } from 'node:path';
import { DiskFormatError } from './errors.js';
import { RawDisk } from './raw.js';
import { VhdDisk } from './vhd.js';
import { VhdxDisk } from './vhdx.js';
import type { VirtualDisk } from './virtual-disk.js';

async function sniff(path: string): Promise<'vhdx' | 'vhd' | 'unknown'> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(8);
    await handle.read(head, 0, 8, 0);
    if (head.toString('latin1') === 'vhdxfile') {
      return 'vhdx';
    }
    const tail = Buffer.alloc(8);
    if (size >= 512) {
      await handle.read(tail, 0, 8, size - 512);
    }
    return tail.toString('latin1') === 'conectix' ? 'vhd' : 'unknown';
  } finally {
    await handle.close();
  }
}

/**
 * Opens a VHDX, VHD or raw image read-only, chosen by content; a `.vhdx`/`.avhdx`/`.vhd`/`.avhd`
 * name whose content does not match is an error (a damaged VHDX must never be backed up as raw).
 * Differencing VHDX files open their parents, found through the parent locator, and refuse loops.
 * Throws DiskFormatError naming the file and the problem. Close the disk when done.
 */
export async function openVirtualDisk(path: string): Promise<VirtualDisk> {
  return openInChain(path, new Set());
}

async function openInChain(path: string, chain: Set<string>): Promise<VirtualDisk> {
  const real = await realpath(path).catch((err: unknown) => {
    throw new DiskFormatError(path, `cannot open: ${err instanceof Error ? err.message : String(err)}`);
  });
  if (chain.has(real)) {
    throw new DiskFormatError(path, `parent chain loops back to ${real}`);
  }
  const kind = await sniff(real);
  const ext = extname(path).toLowerCase();
  if (kind === 'vhdx' || ext === '.vhdx' || ext === '.avhdx') {
    return VhdxDisk.open(path, (parent) => openInChain(parent, new Set([...chain, real])));
  }
  if (kind === 'vhd' || ext === '.vhd' || ext === '.avhd') {
    return VhdDisk.open(path);
  }
  return RawDisk.open(path);
}
