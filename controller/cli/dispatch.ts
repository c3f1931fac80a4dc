import { ExitCode, UserError, type Command } from './command.js';

function usage(program: string, commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `Usage: ${program} <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun '${program} <command> --help' for a command's options.\n`;
}

/** Runs the command named by argv[0]; prints usage for unknown commands and user errors without stacks. */
export async function dispatch(
  program: string,
  commands: readonly Command[],
  argv: string[],
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage(program, commands));
    return name === undefined ? ExitCode.usage : ExitCode.ok;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`${program}: unknown command '${name}'\n\n${usage(program, commands)}`);
    return ExitCode.usage;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UserError) {
      process.stderr.write(`${program} ${name}: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
