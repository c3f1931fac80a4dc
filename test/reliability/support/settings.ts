/**
 * How much of the reliability suite to run. `make test-reliability` sets SHADOWKEEP_RELIABILITY=full
 * for the trial counts docs/reliability.md reports; anything else (`make test`, CI) runs the short
 * version, every area with fewer trials, in a few minutes.
 */
import { writeSync } from 'node:fs';

export type Depth = 'short' | 'full';

export const depth: Depth = process.env.SHADOWKEEP_RELIABILITY === 'full' ? 'full' : 'short';

/** The count for this depth: the full figure, or the short one CI affords. */
export function trials(full: number, short: number): number {
  return depth === 'full' ? full : short;
}

/** The base seed of every random choice; set SHADOWKEEP_RELIABILITY_SEED to replay another run. */
export const baseSeed = Number(process.env.SHADOWKEEP_RELIABILITY_SEED ?? 20261122);

export type Row = Record<string, string | number>;

/** Formats rows as a fixed-width table (the figures docs/reliability.md copies). */
export function formatTable(title: string, rows: readonly Row[]): string {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (row: Row, c: string) => String(row[c] ?? '');
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r, c).length)));
  const line = (values: string[]) => `| ${values.map((v, i) => v.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [
    `\n${title} (${depth}, seed ${baseSeed})`,
    line(columns),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(columns.map((c) => cell(r, c)))),
    '',
  ].join('\n');
}

/** Prints a figures table on the test output, around mocha's reporter. */
export function printFigures(title: string, rows: readonly Row[]): void {
  writeSync(1, formatTable(title, rows) + '\n');
}

/** Share as a percentage with one decimal, e.g. "100.0%". */
export function percent(part: number, whole: number): string {
  return whole === 0 ? 'n/a' : `${((100 * part) / whole).toFixed(1)}%`;
}
