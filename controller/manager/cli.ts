import { parseArgs } from 'node:util';
import { ExitCode, type Command } from '../cli/command.js';
import { Manager } from './manager.js';

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
        'no-leader-elect': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(
        'Usage: shadowkeep controller [--namespace NS] [--metrics-port 8080] [--no-leader-elect]\n' +
          'Runs the reconcilers against the cluster in KUBECONFIG (or in-cluster credentials).\n',
      );
      return ExitCode.ok;
    }
    const manager = new Manager({
      namespace: values.namespace,
      metricsPort: Number(values['metrics-port']),
      metricsHost: values['metrics-host'],
      leaderElection: values['leader-elect'] && !values['no-leader-elect'],
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
