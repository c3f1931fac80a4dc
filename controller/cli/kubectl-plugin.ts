import { dispatch } from './dispatch.js';
import { notImplementedYet, type Command } from './command.js';
import { backupCommand } from '../plugin/backup.js';
import { statusCommand } from '../plugin/status.js';
import { timelineCommand } from '../plugin/timeline.js';
import { restoreCommand } from '../plugin/restore.js';
import { verifyCommand } from '../plugin/verify.js';
import { planCommand } from '../plugin/plan.js';

const commands: Command[] = [
  backupCommand,
  statusCommand,
  timelineCommand,
  restoreCommand,
  verifyCommand,
  planCommand,
  notImplementedYet('files', 'browse and fetch files inside a recovery point'),
];

process.exitCode = await dispatch('kubectl shadowkeep', commands, process.argv.slice(2));
