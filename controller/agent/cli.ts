import { parseArgs } from 'node:util';
import { ExitCode, UserError, type Command } from '../cli/command.js';
import { createLogger } from '../common/log.js';
import { createHypervisor } from '../hypervisor/index.js';
import type { Hypervisor } from '../hypervisor/types.js';
import { KubeRest } from '../kube/rest.js';
import { loadKubeConfig } from '../manager/manager.js';
import { Agent } from './agent.js';

const usage = `Usage: shadowkeep agent [--node NAME] [--hypervisor hyperv|filehost] [--sim-root DIR]
                        [--inventory-interval SECONDS] [--max-jobs N]
                        [--test-restore-path DIR]

Runs the host agent for one Hyper-V node: publishes its HyperVHost and HyperVVirtualMachines and
runs the recovery points assigned to it. The node defaults to $NODE_NAME (the downward API).
--hypervisor filehost drives a simulated host under --sim-root (default $SHADOWKEEP_SIM_ROOT).
--test-restore-path (default $SHADOWKEEP_TEST_RESTORE_PATH): where Boot verification's test VMs
live on a Hyper-V host (default C:\\ProgramData\\Shadowkeep\\Test Restores).
`;

function hypervisorFor(
  kind: string,
  node: string,
  simRoot: string | undefined,
  testRestoreFolder: string | undefined,
): Hypervisor {
  if (kind === 'filehost') {
    if (!simRoot) {
      throw new UserError(
        '--hypervisor filehost needs --sim-root DIR (or SHADOWKEEP_SIM_ROOT)',
        ExitCode.usage,
      );
    }
    return createHypervisor({ backend: 'filehost', node, simRoot });
  }
  if (kind === 'hyperv') {
    return createHypervisor({
      backend: 'hyperv',
      node,
      ...(testRestoreFolder ? { testRestoreFolder } : {}),
    });
  }
  throw new UserError(`--hypervisor takes hyperv or filehost, not '${kind}'`, ExitCode.usage);
}

export const agentCommand: Command = {
  name: 'agent',
  summary: 'run the host agent for this node (NODE_NAME)',
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        node: { type: 'string', default: process.env.NODE_NAME },
        hypervisor: { type: 'string', default: 'hyperv' },
        'sim-root': { type: 'string', default: process.env.SHADOWKEEP_SIM_ROOT },
        'inventory-interval': { type: 'string', default: '10' },
        'max-jobs': { type: 'string', default: '4' },
        'test-restore-path': { type: 'string', default: process.env.SHADOWKEEP_TEST_RESTORE_PATH },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(usage);
      return ExitCode.ok;
    }
    if (!values.node) {
      throw new UserError(
        'no node name: pass --node or set NODE_NAME (spec.nodeName through the downward API)',
        ExitCode.usage,
      );
    }
    const hypervisor = hypervisorFor(
      values.hypervisor,
      values.node,
      values['sim-root'],
      values['test-restore-path'],
    );
    const logger = createLogger('agent').child({ node: values.node });
    const agent = new Agent({
      rest: new KubeRest(loadKubeConfig()),
      hypervisor,
      backend: values.hypervisor === 'filehost' ? 'filehost' : 'hyperv',
      logger,
      inventoryIntervalMs: Number(values['inventory-interval']) * 1000,
      maxConcurrentJobs: Number(values['max-jobs']),
    });
    await agent.start();
    logger.info('agent started', { hypervisor: values.hypervisor });
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        void agent.stop().then(resolve);
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    return ExitCode.ok;
  },
};
