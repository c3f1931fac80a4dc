/**
 * Waiting for objects whose work takes time (recovery points, restores) until each is Completed or
 * Failed: a redrawn progress bar per object on a terminal, a plain line per phase or 10 % step
 * otherwise. Interrupting the wait cancels nothing: the objects belong to the cluster now.
 */
import { formatBytes } from '../api/index.js';
import { ExitCode, UserError } from '../cli/command.js';
import { parseDuration } from '../common/duration.js';
import { colourWanted, palette, type Palette } from './output.js';

/** What the progress display reads: status.phase and status.progress, as both kinds write them. */
export interface Progressing {
  status?: {
    phase?: string;
    progress?: { bytesDone?: number; bytesTotal?: number; percent?: number };
  };
}

export const finished = (object: Progressing | undefined): boolean =>
  object?.status?.phase === 'Completed' || object?.status?.phase === 'Failed';

/** A bar of `width` cells filled to `percent`. */
export function progressBar(percent: number, width = 24): string {
  const filled = Math.round((Math.min(100, Math.max(0, percent)) / 100) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

function percentOf(object: Progressing): number {
  if (object.status?.phase === 'Completed') {
    return 100;
  }
  return object.status?.progress?.percent ?? 0;
}

function bytesOf(object: Progressing): string {
  const progress = object.status?.progress;
  if (!progress?.bytesTotal) {
    return '';
  }
  return ` ${formatBytes(progress.bytesDone ?? 0)}/${formatBytes(progress.bytesTotal)}`;
}

/** One terminal line: name, phase, bar, percentage and bytes. */
export function progressLine(name: string, object: Progressing | undefined, colours: Palette): string {
  const phase = object?.status?.phase ?? 'Pending';
  const shown =
    phase === 'Completed' ? colours.green(phase) : phase === 'Failed' ? colours.red(phase) : phase;
  const percent = object ? percentOf(object) : 0;
  return `${name}  ${progressBar(percent)} ${String(percent).padStart(3)}%  ${shown}${object ? bytesOf(object) : ''}`;
}

/**
 * A plain progress line for logs (no bar), or undefined when nothing worth a line changed since
 * `previous` (phase, or progress by another 10 %).
 */
export function plainProgress(
  name: string,
  object: Progressing | undefined,
  previous: Progressing | undefined,
): string | undefined {
  const phase = object?.status?.phase ?? 'Pending';
  const percent = object ? percentOf(object) : 0;
  const before = previous ? percentOf(previous) : -1;
  const phaseBefore = previous?.status?.phase ?? (previous ? 'Pending' : undefined);
  if (phase === phaseBefore && Math.floor(percent / 10) === Math.floor(before / 10)) {
    return undefined;
  }
  if (phase === 'Completed' || phase === 'Failed') {
    return undefined; // the outcome gets its own line
  }
  return `${name}: ${phase} ${percent}%${object ? bytesOf(object) : ''}`;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls each named object once a second until all are finished, drawing progress on stderr.
 * Returns the last state of each; throws a UserError with `onTimeout` past the deadline.
 */
export async function waitForAll<T extends Progressing>(options: {
  names: readonly string[];
  fetch: (name: string) => Promise<T | undefined>;
  timeoutMs: number;
  onTimeout: string;
  onInterrupt: string;
  /** When the objects are finished: the default reads phase Completed or Failed. */
  done?: (object: T | undefined) => boolean;
  /** What the progress display shows of an object; the object itself by default. */
  view?: (object: T | undefined) => Progressing | undefined;
}): Promise<Map<string, T | undefined>> {
  const { names } = options;
  const done = options.done ?? finished;
  const view = options.view ?? ((object: T | undefined): Progressing | undefined => object);
  const tty = process.stderr.isTTY;
  const colours = palette(colourWanted(process.stderr));
  const latest = new Map<string, T | undefined>();
  const deadline = Date.now() + options.timeoutMs;
  let drawn = 0;
  const interrupted = (): void => {
    process.stderr.write(`\n${options.onInterrupt}\n`);
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  try {
    for (;;) {
      const previous = new Map(latest);
      for (const name of names) {
        if (!done(latest.get(name))) {
          latest.set(name, await options.fetch(name));
        }
      }
      if (tty) {
        const lines = names.map((n) => progressLine(n, view(latest.get(n)), colours));
        process.stderr.write(
          (drawn ? `\u001b[${drawn}A` : '') + lines.map((l) => `\u001b[2K${l}\n`).join(''),
        );
        drawn = lines.length;
      } else {
        for (const name of names) {
          const line = plainProgress(name, view(latest.get(name)), view(previous.get(name)));
          if (line) {
            process.stderr.write(`${line}\n`);
          }
        }
      }
      if (names.every((n) => done(latest.get(n)))) {
        return latest;
      }
      if (Date.now() > deadline) {
        throw new UserError(options.onTimeout);
      }
      await sleep(1000);
    }
  } finally {
    process.off('SIGINT', interrupted);
  }
}

/** The flags of the verbs that wait for the cluster's work. */
export const waitOptions = {
  'no-wait': { type: 'boolean', default: false },
  timeout: { type: 'string', default: '2h' },
} as const;

/** --timeout in milliseconds; a duration that does not parse is a usage error. */
export function timeoutOf(text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new UserError((err as Error).message, ExitCode.usage);
  }
}

/**
 * What the wait says when it ends before the outcome: the work goes on in the cluster
 * (`goesOn`: "the restore goes on") and `follow` is how to watch it.
 */
export function stillGoingOn(
  timeout: string,
  goesOn: string,
  follow: string,
): { onTimeout: string; onInterrupt: string } {
  return {
    onTimeout: `gave up waiting after ${timeout}; ${goesOn}: ${follow}`,
    onInterrupt: `stopped waiting; ${goesOn}: ${follow}`,
  };
}
