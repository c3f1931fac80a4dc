/**
 * The frame every `kubectl shadowkeep` verb that reads the cluster shares: its flags parsed
 * strictly beside the common ones (-n, -o, -h), --help printing the usage, the output format
 * checked, one name on the command line, where the result goes, and the names of the objects it
 * creates. A verb only says what is its own.
 */
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { ExitCode, UserError, type Command } from '../cli/command.js';
import { isConflict } from '../kube/rest.js';
import { dnsLabelFor } from '../policy/naming.js';
import {
  colourWanted,
  commonOptions,
  outputFormat,
  palette,
  renderStructured,
  usageErrors,
  type OutputFormat,
  type Palette,
} from './output.js';

interface VerbConfig<O extends ParseArgsOptionsConfig> {
  args: string[];
  options: typeof commonOptions & O;
  allowPositionals: boolean;
  strict: true;
}

/** A verb's command line once parsed: its flags (the common ones included), names and format. */
export type VerbLine<O extends ParseArgsOptionsConfig> = ReturnType<typeof parseArgs<VerbConfig<O>>> & {
  format: OutputFormat;
  namespace: string;
};

export interface Verb<O extends ParseArgsOptionsConfig> {
  name: string;
  summary: string;
  usage: string;
  /** The verb's own flags, beside the common ones. */
  options: O;
  /** Whether names may follow the verb; without, a name is a usage error. */
  positionals: boolean;
  run(line: VerbLine<O>): Promise<number>;
}

/** A plugin command from a verb: the shared frame first, then the verb's own work. */
export function pluginVerb<O extends ParseArgsOptionsConfig>(verb: Verb<O>): Command {
  return {
    name: verb.name,
    summary: verb.summary,
    async run(args) {
      const parsed = usageErrors(() =>
        parseArgs<VerbConfig<O>>({
          args,
          options: { ...commonOptions, ...verb.options },
          allowPositionals: verb.positionals,
          strict: true,
        }),
      );
      // The common flags are there whatever the verb adds; TypeScript cannot see through O.
      const common = parsed.values as { help: boolean; output: string; namespace: string };
      if (common.help) {
        process.stdout.write(verb.usage);
        return ExitCode.ok;
      }
      const format = outputFormat(common.output);
      return verb.run({ ...parsed, format, namespace: common.namespace });
    },
  };
}

/** The one name a verb takes (`what`: "VM", "recovery point"); none or several is a usage error. */
export function oneName(positionals: readonly string[], what: string, usage: string): string {
  const [name, ...extra] = positionals;
  if (name === undefined || extra.length > 0) {
    throw new UserError(`name one ${what}\n${usage}`, ExitCode.usage);
  }
  return name;
}

/** The result on stdout: a table for people (coloured on a terminal), or the value as JSON or YAML. */
export function writeResult(format: OutputFormat, value: unknown, table: (colours: Palette) => string): void {
  process.stdout.write(
    format === 'table' ? table(palette(colourWanted(process.stdout))) : renderStructured(value, format),
  );
}

/** An outcome line: on stderr when the work failed, else on stdout, coloured where that is a terminal. */
export function writeOutcome(failed: boolean, line: (colours: Palette) => string): void {
  const stream = failed ? process.stderr : process.stdout;
  stream.write(`${line(palette(colourWanted(stream)))}\n`);
}

/**
 * The name of an object a verb creates for `base`: `<base>-<kind>-<yyyymmdd>-<hhmmss>` (UTC),
 * unique per second and a valid object name however long `base` is.
 */
export function stampedName(base: string, kind: string, now: Date): string {
  const iso = now.toISOString();
  const suffix = `-${kind}-${iso.slice(0, 10).replaceAll('-', '')}-${iso.slice(11, 19).replaceAll(':', '')}`;
  return `${dnsLabelFor(base, 63 - suffix.length)}${suffix}`;
}

/** Creates an object; one that already exists is a UserError with `taken`, which says what to do. */
export async function createNew<T>(create: () => Promise<T>, taken: string): Promise<T> {
  try {
    return await create();
  } catch (err) {
    if (isConflict(err)) {
      throw new UserError(taken);
    }
    throw err;
  }
}
