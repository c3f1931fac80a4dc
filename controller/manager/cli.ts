import { parseArgs } from 'node:util';
import { ExitCode, UserError, type Command } from '../cli/command.js';
import { Manager } from './manager.js';

function positiveNumber(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) {
    throw new UserError(`${flag} must be a positive number, not '${text}'`, ExitCode.usage);
  }
  return n;
}

export const controllerCommand: Command = {
  name: 'controller',
  summary: 'run the controller manager (reconcilers, leader election, metrics)',
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        namespace: { type: 'string', default: process.env.POD_NAMESPACE ?? 'shadowkeep-system' },
        'metrics-port': { type: 'string', default: '8080' },
        'metrics-host': { type: 'string', default: '0.0.0.0' },
        'leader-elect': { type: 'boolean', default: true },
        'copy-workers': { type: 'string', default: '2' },
        'copy-bandwidth-mib': { type: 'string' },
        'no-leader-elect': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(
        'Usage: shadowkeep controller [--namespace NS] [--metrics-port 8080] [--no-leader-elect]\n' +
          '                            [--copy-workers 2] [--copy-bandwidth-mib MIB_PER_SECOND]\n' +
          'Runs the reconcilers against the cluster in KUBECONFIG (or in-cluster credentials).\n' +
          'Offsite copies run in the leader: --copy-workers at once, each limited to\n' +
          '--copy-bandwidth-mib MiB/s when set.\n',
      );
      return ExitCode.ok;
    }
    const manager = new Manager({
      namespace: values.namespace,
      metricsPort: Number(values['metrics-port']),
      metricsHost: values['metrics-host'],
      leaderElection: values['leader-elect'] && !values['no-leader-elect'],
      copyWorkers: positiveNumber(values['copy-workers'], '--copy-workers'),
      ...(values['copy-bandwidth-mib']
        ? {
            copyBytesPerSecond:
              positiveNumber(values['copy-bandwidth-mib'], '--copy-bandwidth-mib') * 1024 * 1024,
          }
        : {}),
    });
    await manager.start();
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        manager.logger.info('shutting down');
        void manager.stop().then(resolve);
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    return ExitCode.ok;
  },
};
