import { dispatch } from './dispatch.js';
import { controllerCommand } from '../manager/cli.js';
import { agentCommand } from '../agent/cli.js';
import type { Command } from './command.js';
import { filesCommand } from '../ilr/cli.js';
import { simCommand } from '../hypervisor/sim-cli.js';
import { diskCommand, repoCommand } from '../datapath/cli.js';

const commands: Command[] = [
  controllerCommand,
  agentCommand,
  repoCommand,
  diskCommand,
  filesCommand,
  simCommand,
];

process.exitCode = await dispatch('shadowkeep', commands, process.argv.slice(2));
