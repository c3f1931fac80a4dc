/**
 * Change tracking in the manner of RCT: every guest write appends its range to a log beside the disk
 * (`<disk>.rct`, fixed 16-byte records). A checkpoint remembers the log length at its freeze, so the
 * changes between two checkpoints are the records between their two positions. The log is written
 * by the sim's own write path under the VM lock, so it can never miss a write that reached the disk.
 */
import { open, rm, stat } from 'node:fs/promises';
import type { ByteRange } from '../types.js';
import { isCode } from './lock.js';
import { mergeRanges } from '../ranges.js';

const recordSize = 16;

export function changeLogPath(diskPath: string): string {
  return `${diskPath}.rct`;
}

export async function recordChange(diskPath: string, range: ByteRange): Promise<void> {
  const record = Buffer.alloc(recordSize);
  record.writeBigUInt64LE(BigInt(range.offset), 0);
  record.writeBigUInt64LE(BigInt(range.length), 8);
  const file = await open(changeLogPath(diskPath), 'a');
  try {
    await file.write(record);
  } finally {
    await file.close();
  }
}

/** The number of writes recorded so far: the position a checkpoint freezes. */
export async function changeSequence(diskPath: string): Promise<number> {
  try {
    return Math.floor((await stat(changeLogPath(diskPath))).size / recordSize);
  } catch (err) {
    if (isCode(err, 'ENOENT')) {
      return 0;
    }
    throw err;
  }
}

/** Ranges written between two positions of the log, merged and sorted. */
export async function changesBetween(diskPath: string, from: number, to: number): Promise<ByteRange[]> {
  if (to <= from) {
    return [];
  }
  const buffer = Buffer.alloc((to - from) * recordSize);
  const file = await open(changeLogPath(diskPath), 'r');
  try {
    await file.read(buffer, 0, buffer.length, from * recordSize);
  } finally {
    await file.close();
  }
  const ranges: ByteRange[] = [];
  for (let at = 0; at < buffer.length; at += recordSize) {
    ranges.push({
      offset: Number(buffer.readBigUInt64LE(at)),
      length: Number(buffer.readBigUInt64LE(at + 8)),
    });
  }
  return mergeRanges(ranges);
}

export async function dropChangeLog(diskPath: string): Promise<void> {
  await rm(changeLogPath(diskPath), { force: true });
}

/** The id a reference point keeps per disk: which log, and how far into it. */
export function rctId(trackingId: string, sequence: number): string {
  return `${trackingId}@${sequence}`;
}

export function parseRctId(id: string): { trackingId: string; sequence: number } | undefined {
  const match = /^([0-9a-f-]{36})@(\d+)$/.exec(id);
  return match?.[1] && match[2] ? { trackingId: match[1], sequence: Number(match[2]) } : undefined;
}
