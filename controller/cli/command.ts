import { parseArgs, type ParseArgsConfig } from 'node:util';
/**
 * A CLI command: each concern (data path, files, agent, controller, ...) exports its own and the
 * entry point only lists them, so adding a command never means editing another concern's code.
 */
export interface Command {
  name: string;
  summary: string;
  /** Returns the process exit code. */
  run(args: string[]): Promise<number>;
}

/** Exit codes shared by every command, so scripts can tell a usage error from a failed operation. */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
} as const;

/** A failure whose message is meant for the person at the terminal (no stack trace). */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.failed,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/**
 * A command whose module loads only when it runs: `shadowkeep files get` should not pay for
 * loading the Kubernetes client, and the controller not for the NTFS reader.
 */
export function lazyCommand(name: string, summary: string, load: () => Promise<Command>): Command {
  return {
    name,
    summary,
    async run(args) {
      return (await load()).run(args);
    },
  };
}

/**
 * Parses a subcommand's flags and positionals strictly; a mistake becomes a usage error that ends
 * with the command's usage text.
 */
export function parseCommandLine<O extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: O,
  usage: string,
): ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UserError(`${(err as Error).message}\n\n${usage}`, ExitCode.usage);
  }
}
