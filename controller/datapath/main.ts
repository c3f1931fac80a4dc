/**
 * A data-path-only entry point (`repo` and `disk` commands), for copy workers and benchmarks:
 * it loads none of the controller's Kubernetes code, so it starts in tens of milliseconds.
 * `shadowkeep repo|disk` runs the same commands.
 */
import { dispatch } from '../cli/dispatch.js';
import { diskCommand, repoCommand } from './cli.js';

process.exitCode = await dispatch('shadowkeep', [repoCommand, diskCommand], process.argv.slice(2));
