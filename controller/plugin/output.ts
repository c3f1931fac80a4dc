/**
 * What every `kubectl shadowkeep` verb shares: the common flags (-n, -o), tables in kubectl's
 * style with colour only on a terminal, JSON and YAML output, and short ages. Pure functions except
 * where they say they write.
 */
import { dump } from 'js-yaml';
import { formatDuration } from '../common/duration.js';
import { ExitCode, UserError } from '../cli/command.js';

export type OutputFormat = 'table' | 'json' | 'yaml';

export const defaultNamespace = 'shadowkeep-system';

/** The flags every verb takes, in node:util parseArgs form. */
export const commonOptions = {
  namespace: { type: 'string', short: 'n', default: defaultNamespace },
  output: { type: 'string', short: 'o', default: 'table' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export const commonUsage =
  '  -n, --namespace NS      namespace of the policies and recovery points (default shadowkeep-system)\n' +
  '  -o, --output FORMAT     table (default), json or yaml\n' +
  'Uses KUBECONFIG (or ~/.kube/config) like kubectl.\n';

export function outputFormat(text: string): OutputFormat {
  if (text === 'table' || text === 'json' || text === 'yaml') {
    return text;
  }
  throw new UserError(`unknown output format '${text}': use table, json or yaml`, ExitCode.usage);
}

/** Wraps node:util parseArgs errors (unknown flag, missing value) as usage errors. */
export function usageErrors<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof Error && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
      throw new UserError(err.message, ExitCode.usage);
    }
    throw err;
  }
}

/** JSON (two-space indent) or YAML of a plain value, ending with a newline. */
export function renderStructured(value: unknown, format: 'json' | 'yaml'): string {
  return format === 'json'
    ? `${JSON.stringify(value, null, 2)}\n`
    : dump(value, { noRefs: true, lineWidth: -1 });
}

/** ANSI colours that are no-ops unless enabled (stdout is a terminal and NO_COLOR is unset). */
export interface Palette {
  green(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

const ansi =
  (code: number) =>
  (text: string): string =>
    `\u001b[${code}m${text}\u001b[0m`;

export function palette(enabled: boolean): Palette {
  const plain = (text: string): string => text;
  return enabled
    ? { green: ansi(32), red: ansi(31), yellow: ansi(33), dim: ansi(2), bold: ansi(1) }
    : { green: plain, red: plain, yellow: plain, dim: plain, bold: plain };
}

export function colourWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && env.NO_COLOR === undefined && env.TERM !== 'dumb';
}

// eslint-disable-next-line no-control-regex
const ansiPattern = /\u001b\[[0-9;]*m/g;

/** Visible width of a cell, ignoring colour escapes. */
export function visibleLength(text: string): number {
  return text.replace(ansiPattern, '').length;
}

/** A table as kubectl prints it: upper-case headers, columns three spaces apart, no trailing blanks. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) =>
        i === cells.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - visibleLength(cell)),
      )
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].map((l) => `${l}\n`).join('');
}

/** What finished work (a recovery point, a restore) has in common for its outcome line. */
export interface Finished {
  phase?: string;
  failure?: { reason: string; message: string };
  startTime?: string;
  completionTime?: string;
}

/** Why work failed, for people. */
export function failureText(failure: Finished['failure']): string {
  return failure ? `${failure.reason}: ${failure.message}` : 'no failure reason recorded';
}

/**
 * The outcome of finished work for people: `<name> Failed: <why>`, or
 * `<name> Completed: <details> in <how long>`.
 */
export function outcomeOf(
  name: string,
  status: Finished,
  details: readonly (string | undefined)[],
  colours: Palette,
): string {
  if (status.phase === 'Failed') {
    return `${name} ${colours.red('Failed')}: ${failureText(status.failure)}`;
  }
  const took =
    status.startTime && status.completionTime
      ? ` in ${formatDuration(new Date(status.completionTime).getTime() - new Date(status.startTime).getTime())}`
      : '';
  return `${name} ${colours.green('Completed')}: ${details.filter(Boolean).join(', ')}${took}`;
}

/** How long ago `time` was, in kubectl's short form ("5m", "3d4h"); "-" without a time. */
export function ageOf(time: string | undefined, now: Date): string {
  if (!time) {
    return '-';
  }
  return formatDuration(Math.max(0, now.getTime() - new Date(time).getTime()));
}

/** An RFC 3339 time as "2026-11-22 00:15:30" (UTC), the way people read it in a table. */
export function shortTime(time: string | undefined): string {
  return time ? new Date(time).toISOString().slice(0, 19).replace('T', ' ') : '-';
}
