/**
 * Runs fuzz inputs for one target inside a worker thread, so the parent can bound each input's time
 * (terminate on a hang) and the heap (resourceLimits). Replies with how the target took the input.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TARGETS, mutateFor, type TargetContext, type TargetName } from './fuzz-targets.js';
import type { Region } from './mutator.js';

export interface WorkerSetup {
  target: TargetName;
  base: Uint8Array;
  regions: Region[];
  context: TargetContext;
}

export type Outcome =
  { kind: 'accepted' } | { kind: 'refused'; error: string } | { kind: 'crash'; error: string; stack: string };

export interface Reply {
  seed: number;
  outcome: Outcome;
  ms: number;
}

const setup = workerData as WorkerSetup;
const target = TARGETS[setup.target];
const base = Buffer.from(setup.base);

parentPort?.on('message', (seed: number) => {
  const input = mutateFor(target, base, setup.regions, seed);
  const started = performance.now();
  // Through a resolved promise, so a target that throws synchronously is judged like one that rejects.
  void Promise.resolve()
    .then(() => target.run(input, setup.context))
    .then(
      (): Outcome => ({ kind: 'accepted' }),
      (err: unknown): Outcome => {
        if (target.allowed.some((type) => err instanceof type)) {
          return { kind: 'refused', error: (err as Error).name };
        }
        const e = err instanceof Error ? err : new Error(String(err));
        return { kind: 'crash', error: `${e.name}: ${e.message}`, stack: e.stack ?? '' };
      },
    )
    .then((outcome) => {
      parentPort?.postMessage({ seed, outcome, ms: performance.now() - started } satisfies Reply);
    });
});
