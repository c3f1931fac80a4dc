/**
 * Real guest disks for the sim: an MBR disk with one NTFS partition (mkntfs, ntfscp), turned into a
 * dynamic VHDX by qemu-img. Built as raw images in a scratch folder next to the target, so nothing is
 * mounted and no root privileges are needed. The MBR is written here: it is 16 bytes of table, and
 * sgdisk spends a second per disk waiting for a kernel that has no device to re-read.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, truncate, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { HypervisorError } from '../types.js';
import { runTool } from './tools.js';

const mib = 1024 * 1024;
/** The partition starts at 1 MiB, as Windows aligns it; the last MiB stays free as on a real disk. */
const partitionStart = mib;
const sector = 512;
const ntfsFileName = /^[A-Za-z0-9][A-Za-z0-9 _.-]{0,100}$/;

export interface GuestFile {
  /** File name in the volume's root folder. */
  name: string;
  data: Buffer;
}

export async function createNtfsVhdx(
  path: string,
  sizeBytes: number,
  files: readonly GuestFile[],
  label = 'Data',
): Promise<void> {
  if (sizeBytes < 8 * mib || sizeBytes % mib !== 0) {
    throw new HypervisorError(
      'InvalidState',
      `disk size must be a whole number of MiB, at least 8 MiB (got ${sizeBytes})`,
    );
  }
  for (const file of files) {
    if (!ntfsFileName.test(file.name)) {
      throw new HypervisorError(
        'InvalidState',
        `guest file name ${JSON.stringify(file.name)} is not allowed`,
      );
    }
  }
  const scratch = await mkdtemp(`${dirname(path)}/.build-`);
  try {
    const partition = `${scratch}/partition.img`;
    const partitionBytes = sizeBytes - partitionStart - mib;
    await truncate(await touch(partition), partitionBytes);
    await runTool('mkntfs', [
      '-F',
      '-Q',
      '-q',
      '-s',
      String(sector),
      '-p',
      String(partitionStart / sector),
      '-H',
      '255',
      '-S',
      '63',
      '-L',
      label,
      partition,
    ]);
    for (const file of files) {
      const source = `${scratch}/file`;
      await writeFile(source, file.data);
      await runTool('ntfscp', ['-f', partition, source, file.name]);
    }
    const raw = `${scratch}/disk.raw`;
    await truncate(await touch(raw), sizeBytes);
    await writeMbr(raw, partitionStart / sector, partitionBytes / sector);
    await copyInto(partition, raw, partitionStart);
    await runTool('qemu-img', [
      'convert',
      '-f',
      'raw',
      '-O',
      'vhdx',
      '-o',
      'subformat=dynamic,block_size=1M',
      raw,
      path,
    ]);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** A blank dynamic VHDX (a new data disk, or a disk that gets its partitions later). */
export async function createBlankVhdx(path: string, sizeBytes: number): Promise<void> {
  await runTool('qemu-img', [
    'create',
    '-q',
    '-f',
    'vhdx',
    '-o',
    'subformat=dynamic,block_size=1M',
    path,
    String(sizeBytes),
  ]);
}

/** One primary partition of type 0x07 (NTFS), addressed by LBA only (CHS fields set to "beyond 8 GB"). */
async function writeMbr(path: string, startSector: number, sectors: number): Promise<void> {
  const mbr = Buffer.alloc(sector);
  mbr.writeUInt32LE(randomBytes(4).readUInt32LE(0), 440); // disk signature, which Windows keys volumes on
  const entry = 446;
  mbr.set([0x00, 0xfe, 0xff, 0xff, 0x07, 0xfe, 0xff, 0xff], entry);
  mbr.writeUInt32LE(startSector, entry + 8);
  mbr.writeUInt32LE(sectors, entry + 12);
  mbr.writeUInt16LE(0xaa55, 510);
  const file = await open(path, 'r+');
  try {
    await file.write(mbr, 0, sector, 0);
  } finally {
    await file.close();
  }
}

async function touch(path: string): Promise<string> {
  await writeFile(path, '');
  return path;
}

async function copyInto(source: string, target: string, at: number): Promise<void> {
  const from = await open(source, 'r');
  const to = await open(target, 'r+');
  try {
    const buffer = Buffer.alloc(4 * mib);
    const zeros = Buffer.alloc(buffer.length);
    for (let offset = 0; ; offset += buffer.length) {
      const { bytesRead } = await from.read(buffer, 0, buffer.length, offset);
      if (bytesRead === 0) {
        break;
      }
      // Skipping zeros keeps the raw image sparse; qemu-img leaves those blocks unallocated.
      if (!buffer.subarray(0, bytesRead).equals(zeros.subarray(0, bytesRead))) {
        await to.write(buffer, 0, bytesRead, at + offset);
      }
    }
  } finally {
    await from.close();
    await to.close();
  }
}
