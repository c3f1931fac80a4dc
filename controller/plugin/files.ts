/**
 * `kubectl shadowkeep files ls|get|volumes RECOVERYPOINT [PATH]`: item-level recovery by the names
 * `kubectl get recoverypoints` shows. The RecoveryPoint and its BackupRepository (with the key from
 * the repository's Secret) are read through the cluster, then the same code as `shadowkeep files`
 * browses the stored disk; nothing is restored.
 */
import { ExitCode, UserError, type Command } from '../cli/command.js';
import { defaultNamespace } from './output.js';

const USAGE = `Usage: kubectl shadowkeep files ls|get|volumes RECOVERYPOINT [PATH] [options]

  ls RP [PATH]              list a directory (default /) or describe a file
  get RP PATH --out DIR     copy a file, or a directory recursively, into DIR
  volumes RP                list the partitions and their file systems

Options: -n, --namespace NS (default ${defaultNamespace}), --vm-disk LOCATION|FILE for a VM with
several disks, --partition N, --stream NAME, --json.
`;

const subcommands = new Set(['ls', 'get', 'volumes']);

export const filesCommand: Command = {
  name: 'files',
  summary: 'browse and fetch files inside a recovery point (ls, get, volumes)',
  async run(args) {
    const [sub, point, ...rest] = args;
    if (sub === undefined || sub === '-h' || sub === '--help') {
      process.stdout.write(USAGE);
      return sub === undefined ? ExitCode.usage : ExitCode.ok;
    }
    if (!subcommands.has(sub) || point === undefined || point.startsWith('-')) {
      throw new UserError(
        `give a subcommand (ls, get, volumes) and a RecoveryPoint name\n\n${USAGE}`,
        ExitCode.usage,
      );
    }
    const namespaceAt = rest.findIndex((a) => a === '-n' || a === '--namespace');
    const namespace = namespaceAt >= 0 ? rest[namespaceAt + 1] : defaultNamespace;
    if (namespace === undefined) {
      throw new UserError(`${rest[namespaceAt] ?? '-n'} needs a namespace`, ExitCode.usage);
    }
    const others =
      namespaceAt >= 0 ? rest.filter((_, i) => i !== namespaceAt && i !== namespaceAt + 1) : rest;
    const { filesCommand: files } = await import('../ilr/cli.js');
    return files.run([sub, '--recovery-point', point, '--namespace', namespace, ...others]);
  },
};
