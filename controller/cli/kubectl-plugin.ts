import { dispatch } from './dispatch.js';
import { notImplementedYet, type Command } from './command.js';
import { backupCommand } from '../plugin/backup.js';
import { statusCommand } from '../plugin/status.js';
import { timelineCommand } from '../plugin/timeline.js';

const commands: Command[] = [
  backupCommand,
  statusCommand,
  timelineCommand,
  notImplementedYet('restore', 'restore a recovery point (whole VM, disks or files)'),
  notImplementedYet('files', 'browse and fetch files inside a recovery point'),
  notImplementedYet('verify', 'verify a recovery point now'),
  notImplementedYet('plan', 'storage projection per repository from measured change rates'),
];

process.exitCode = await dispatch('kubectl shadowkeep', commands, process.argv.slice(2));
