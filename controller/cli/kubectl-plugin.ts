import { dispatch } from './dispatch.js';
import type { Command } from './command.js';
import { backupCommand } from '../plugin/backup.js';
import { statusCommand } from '../plugin/status.js';
import { timelineCommand } from '../plugin/timeline.js';
import { restoreCommand } from '../plugin/restore.js';
import { verifyCommand } from '../plugin/verify.js';
import { planCommand } from '../plugin/plan.js';
import { filesCommand } from '../plugin/files.js';

const commands: Command[] = [
  backupCommand,
  statusCommand,
  timelineCommand,
  restoreCommand,
  verifyCommand,
  planCommand,
  filesCommand,
];

process.exitCode = await dispatch('kubectl shadowkeep', commands, process.argv.slice(2));
