import { dispatch } from './dispatch.js';
import { controllerCommand } from '../manager/cli.js';
import { notImplementedYet, type Command } from './command.js';
import { filesCommand } from '../ilr/cli.js';
import { simCommand } from '../hypervisor/sim-cli.js';
import { diskCommand, repoCommand } from '../datapath/cli.js';

const commands: Command[] = [
  controllerCommand,
  notImplementedYet('agent', 'run the host agent for this node (NODE_NAME)'),
  repoCommand,
  diskCommand,
  filesCommand,
  simCommand,
];

process.exitCode = await dispatch('shadowkeep', commands, process.argv.slice(2));
