import { enableCompileCache, setSourceMapsSupport } from 'node:module';
import { dispatch } from './dispatch.js';
import { lazyCommand, type Command } from './command.js';

const commands: Command[] = [
  lazyCommand(
    'controller',
    'run the controller manager (reconcilers, leader election, metrics)',
    async () => (await import('../manager/cli.js')).controllerCommand,
  ),
  lazyCommand(
    'agent',
    'run the host agent for this node (NODE_NAME)',
    async () => (await import('../agent/cli.js')).agentCommand,
  ),
  lazyCommand(
    'repo',
    'create, check, garbage-collect and inspect a backup repository',
    async () => (await import('../datapath/cli.js')).repoCommand,
  ),
  lazyCommand(
    'disk',
    'back up, restore and list virtual disks',
    async () => (await import('../datapath/cli.js')).diskCommand,
  ),
  lazyCommand(
    'files',
    'browse and fetch files inside a recovery point',
    async () => (await import('../ilr/cli.js')).filesCommand,
  ),
  lazyCommand(
    'seed',
    'carry the first offsite copy on removable media (export, import)',
    async () => (await import('../copy/seed-cli.js')).seedCommand,
  ),
  lazyCommand(
    'sim',
    'create and drive simulated Hyper-V hosts (filehost backend)',
    async () => (await import('../hypervisor/sim-cli.js')).simCommand,
  ),
];

// Stack traces name TypeScript lines. Dependencies' source maps stay unread: client-node ships one per
// generated module, and parsing them cost the controller ~10 MiB of heap (--enable-source-maps
// reads them all).
setSourceMapsSupport(true);

// Commands are loaded on demand (below); with V8's code cache on disk a short command such as a
// changed-range backup spends ~40 ms less compiling them (docs/performance.md). Without a
// writable cache folder Node carries on without one.
enableCompileCache();

process.exitCode = await dispatch('shadowkeep', commands, process.argv.slice(2));
