/**
 * Which chunks of a disk a backup must read. Pure: the decisions are the change-detection
 * method, testable without a disk. Chunks are fixed-size slices aligned to virtual-disk offsets,
 * so the same guest data lands in the same chunk in every recovery point.
 */
import { overlapsAny, type ByteRange } from '../disk/ranges.js';

export type ChunkPlan =
  /** Outside every allocated range: zeros, not read. */
  | { kind: 'zero' }
  /** Untouched according to the hypervisor's changed ranges: the previous chunk, not read. */
  | { kind: 'reuse'; id: string | null }
  /** Read and hash; `previous` is the chunk at the same position last time, to tell what changed. */
  | { kind: 'read'; previous: string | null | undefined };

export interface PlanInput {
  virtualSize: number;
  chunkSize: number;
  allocated: readonly ByteRange[];
  /** Chunk list of the previous recovery point of this disk (same chunk size and virtual size). */
  previous?: readonly (string | null)[];
  /** Sorted, merged ranges changed since `previous` (RCT); everything else is reused unread. */
  changed?: readonly ByteRange[];
}

export function chunkCount(virtualSize: number, chunkSize: number): number {
  return Math.ceil(virtualSize / chunkSize);
}

export function planChunks(input: PlanInput): ChunkPlan[] {
  const { virtualSize, chunkSize, allocated, previous, changed } = input;
  if (changed && !previous) {
    throw new Error('changed ranges need a previous recovery point to apply to');
  }
  const plans: ChunkPlan[] = [];
  for (let i = 0; i < chunkCount(virtualSize, chunkSize); i++) {
    const offset = i * chunkSize;
    const length = Math.min(chunkSize, virtualSize - offset);
    if (!overlapsAny(allocated, offset, length)) {
      plans.push({ kind: 'zero' });
    } else if (changed && previous && !overlapsAny(changed, offset, length)) {
      plans.push({ kind: 'reuse', id: previous[i] ?? null });
    } else {
      plans.push({ kind: 'read', previous: previous?.[i] });
    }
  }
  return plans;
}

/** Bytes of the chunks that sorted, merged `ranges` touch, each chunk counted once. */
export function chunkBytesCovered(ranges: readonly ByteRange[], chunkSize: number): number {
  let chunks = 0;
  let lastCounted = -1;
  for (const { offset, length } of ranges) {
    if (length <= 0) {
      continue;
    }
    const first = Math.max(Math.floor(offset / chunkSize), lastCounted + 1);
    const last = Math.floor((offset + length - 1) / chunkSize);
    if (last >= first) {
      chunks += last - first + 1;
      lastCounted = last;
    }
  }
  return chunks * chunkSize;
}

/** A run of consecutive chunks to read, so the disk is read in large sequential pieces. */
export interface ReadRun {
  first: number;
  count: number;
  offset: number;
  length: number;
}

export function readRuns(
  plans: readonly ChunkPlan[],
  chunkSize: number,
  virtualSize: number,
  maxChunks: number,
): ReadRun[] {
  const runs: ReadRun[] = [];
  let run: ReadRun | undefined;
  plans.forEach((plan, i) => {
    if (plan.kind !== 'read') {
      run = undefined;
      return;
    }
    const length = Math.min(chunkSize, virtualSize - i * chunkSize);
    if (run && run.count < maxChunks) {
      run.count++;
      run.length += length;
    } else {
      run = { first: i, count: 1, offset: i * chunkSize, length };
      runs.push(run);
    }
  });
  return runs;
}
