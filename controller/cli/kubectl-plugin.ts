import { dispatch } from './dispatch.js';
import { notImplementedYet, type Command } from './command.js';

const commands: Command[] = [
  notImplementedYet('backup', 'take an on-demand recovery point of a VM or a policy, and wait for it'),
  notImplementedYet('status', 'coverage: every VM, the policy that protects it, RPO state'),
  notImplementedYet('timeline', 'recovery points of a VM with consistency, sizes, offsite and verification'),
  notImplementedYet('restore', 'restore a recovery point (whole VM, disks or files)'),
  notImplementedYet('files', 'browse and fetch files inside a recovery point'),
  notImplementedYet('verify', 'verify a recovery point now'),
  notImplementedYet('plan', 'storage projection per repository from measured change rates'),
];

process.exitCode = await dispatch('kubectl shadowkeep', commands, process.argv.slice(2));
