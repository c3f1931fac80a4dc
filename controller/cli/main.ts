import { dispatch } from './dispatch.js';
import { notImplementedYet, type Command } from './command.js';
import { filesCommand } from '../ilr/cli.js';

const commands: Command[] = [
  notImplementedYet('controller', 'run the controller manager (reconcilers, leader election, metrics)'),
  notImplementedYet('agent', 'run the host agent for this node (NODE_NAME)'),
  notImplementedYet('repo', 'create, check, garbage-collect and inspect a backup repository'),
  notImplementedYet('disk', 'back up, restore and list virtual disks'),
  filesCommand,
  notImplementedYet('sim', 'create and drive simulated Hyper-V hosts (filehost backend)'),
];

process.exitCode = await dispatch('shadowkeep', commands, process.argv.slice(2));
