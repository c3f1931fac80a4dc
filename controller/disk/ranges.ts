/** A half-open byte range [offset, offset + length) of a virtual disk. */
export interface ByteRange {
  offset: number;
  length: number;
}

/** Sorts ranges and merges the ones that touch or overlap, dropping empty ones. */
export function mergeRanges(ranges: Iterable<ByteRange>): ByteRange[] {
  const sorted = [...ranges].filter((r) => r.length > 0).sort((a, b) => a.offset - b.offset);
  const merged: ByteRange[] = [];
  for (const r of sorted) {
    const last = merged.at(-1);
    if (last && r.offset <= last.offset + last.length) {
      last.length = Math.max(last.length, r.offset + r.length - last.offset);
    } else {
      merged.push({ offset: r.offset, length: r.length });
    }
  }
  return merged;
}

/** Whether any of the sorted, merged `ranges` overlaps [offset, offset + length). */
export function overlapsAny(ranges: readonly ByteRange[], offset: number, length: number): boolean {
  // Binary search for the first range ending after `offset`.
  let lo = 0;
  let hi = ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const r = ranges[mid];
    if (r && r.offset + r.length <= offset) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  const candidate = ranges[lo];
  return candidate !== undefined && candidate.offset < offset + length;
}
