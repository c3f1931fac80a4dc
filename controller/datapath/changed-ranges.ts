/**
 * The changed-range list a hypervisor gives (Hyper-V RCT through the host agent): a JSON array
 * of {offset, length} objects, or text lines "offset length" (decimal bytes; '#' comments).
 */
import { readFile } from 'node:fs/promises';
import { mergeRanges, type ByteRange } from '../disk/ranges.js';

export function parseChangedRanges(text: string, source: string, virtualSize: number): ByteRange[] {
  const trimmed = text.trim();
  let ranges: ByteRange[];
  if (trimmed.startsWith('[')) {
    const parsed = JSON.parse(trimmed) as unknown;
    if (!Array.isArray(parsed)) {
      throw new Error(`${source}: expected a JSON array of {offset, length}`);
    }
    ranges = parsed.map((r: unknown, i) => {
      const { offset, length } = (r ?? {}) as Partial<ByteRange>;
      if (typeof offset !== 'number' || typeof length !== 'number') {
        throw new Error(`${source}: entry ${i} lacks a numeric offset and length`);
      }
      return { offset, length };
    });
  } else {
    ranges = trimmed
      .split('\n')
      .map((line, i) => ({ line: line.replace(/#.*/, '').trim(), i }))
      .filter(({ line }) => line !== '')
      .map(({ line, i }) => {
        const [offset, length, extra] = line.split(/\s+/).map(Number);
        if (
          offset === undefined ||
          length === undefined ||
          extra !== undefined ||
          !Number.isFinite(offset) ||
          !Number.isFinite(length)
        ) {
          throw new Error(`${source}:${i + 1}: expected "offset length"`);
        }
        return { offset, length };
      });
  }
  for (const r of ranges) {
    if (
      !Number.isSafeInteger(r.offset) ||
      !Number.isSafeInteger(r.length) ||
      r.offset < 0 ||
      r.length < 0 ||
      r.offset + r.length > virtualSize
    ) {
      throw new Error(`${source}: range ${r.offset}+${r.length} lies outside the ${virtualSize}-byte disk`);
    }
  }
  return mergeRanges(ranges);
}

export async function readChangedRanges(path: string, virtualSize: number): Promise<ByteRange[]> {
  return parseChangedRanges(await readFile(path, 'utf8'), path, virtualSize);
}
