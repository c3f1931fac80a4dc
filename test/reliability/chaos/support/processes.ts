/**
 * Shadowkeep processes (controller replicas, agents) as the chaos run drives them: started from
 * bin/shadowkeep like a Deployment or a Windows service would, each appending to its own log
 * across restarts, killed with SIGKILL (no chance to clean up) and started again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { openSync, closeSync, writeSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../../support/kube.js';

export class ShadowkeepProcess {
  private child: ChildProcess | undefined;
  /** How many times the process was started. */
  starts = 0;

  constructor(
    readonly name: string,
    private readonly args: string[],
    private readonly logFile: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  start(): void {
    if (this.pid !== undefined) {
      throw new Error(`${this.name} already runs (pid ${this.pid})`);
    }
    const log = openSync(this.logFile, 'a');
    writeSync(
      log,
      `\n--- ${new Date().toISOString()} start ${this.starts + 1}: shadowkeep ${this.args.join(' ')}\n`,
    );
    this.child = spawn(path.join(repoRoot, 'bin/shadowkeep'), this.args, {
      env: this.env,
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    this.starts++;
  }

  /** SIGKILL, then waits until the process is gone. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child || this.pid === undefined) {
      return;
    }
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }
}
