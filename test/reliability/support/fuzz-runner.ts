/**
 * Drives one fuzz target: a worker thread per target with a heap limit, one input at a time, each
 * bounded in time. A hang terminates the worker (even a synchronous loop) and a heap overflow ends
 * it; both are findings like an undocumented error, and a fresh worker takes the next input.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';
import { TARGETS, mutateFor, type TargetContext, type TargetName } from './fuzz-targets.js';
import type { Outcome, Reply, WorkerSetup } from './fuzz-worker.js';
import { Rng } from './rng.js';

export interface Finding {
  seed: number;
  kind: 'crash' | 'hang' | 'memory';
  error: string;
  /** The input, saved for replay and for the regression corpus. */
  file: string;
}

export interface FuzzStats {
  target: TargetName;
  inputs: number;
  accepted: number;
  refused: number;
  findings: Finding[];
  maxMs: number;
  /**
   * Peak resident memory of the whole process while the target ran, sampled every 50 ms. The
   * worker's heap limit does not cover Buffers, which live outside the heap; this does.
   */
  peakRssMb: number;
  seconds: number;
}

export const FINDINGS_DIR = join(tmpdir(), 'shadowkeep-fuzz-findings');

export async function fuzzTarget(options: {
  target: TargetName;
  base: Buffer;
  context: TargetContext;
  inputs: number;
  seed: number;
  timeoutMs: number;
  heapLimitMb: number;
}): Promise<FuzzStats> {
  const target = TARGETS[options.target];
  const regions = target.regions(options.base);
  const setup: WorkerSetup = {
    target: options.target,
    base: options.base,
    regions,
    context: options.context,
  };
  const stats: FuzzStats = {
    target: options.target,
    inputs: 0,
    accepted: 0,
    refused: 0,
    findings: [],
    maxMs: 0,
    peakRssMb: 0,
    seconds: 0,
  };
  const started = performance.now();
  const sample = () => {
    stats.peakRssMb = Math.max(stats.peakRssMb, process.memoryUsage.rss() / 2 ** 20);
  };
  const sampler = setInterval(sample, 50);
  let worker: Worker | undefined;

  const keep = async (seed: number, kind: Finding['kind'], error: string) => {
    await mkdir(FINDINGS_DIR, { recursive: true });
    const file = join(FINDINGS_DIR, `${options.target.replaceAll(' ', '-')}-${seed}.gz`);
    await writeFile(file, gzipSync(mutateFor(target, options.base, regions, seed)));
    stats.findings.push({ seed, kind, error, file });
  };

  const runOne = (
    seed: number,
  ): Promise<Reply | { seed: number; failure: Finding['kind']; error: string }> => {
    worker ??= new Worker(new URL('./fuzz-worker.js', import.meta.url), {
      workerData: setup,
      resourceLimits: { maxOldGenerationSizeMb: options.heapLimitMb, maxYoungGenerationSizeMb: 32 },
    });
    const w = worker;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        w.off('message', onMessage);
        w.off('error', onError);
      };
      const onMessage = (reply: Reply) => {
        done();
        resolve(reply);
      };
      const onError = (err: Error) => {
        done();
        worker = undefined;
        const memory = (err as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
        resolve({ seed, failure: memory ? 'memory' : 'crash', error: `${err.name}: ${err.message}` });
      };
      const timer = setTimeout(() => {
        w.off('message', onMessage);
        w.off('error', onError);
        worker = undefined;
        void w.terminate();
        resolve({ seed, failure: 'hang', error: `no answer within ${options.timeoutMs} ms` });
      }, options.timeoutMs);
      w.on('message', onMessage);
      w.on('error', onError);
      w.postMessage(seed);
    });
  };

  try {
    for (let i = 0; i < options.inputs; i++) {
      const seed = Rng.seedFor(options.seed, options.target, i);
      const result = await runOne(seed);
      stats.inputs++;
      if ('failure' in result) {
        await keep(seed, result.failure, result.error);
        continue;
      }
      stats.maxMs = Math.max(stats.maxMs, result.ms);
      const outcome: Outcome = result.outcome;
      if (outcome.kind === 'accepted') {
        stats.accepted++;
      } else if (outcome.kind === 'refused') {
        stats.refused++;
      } else {
        await keep(seed, 'crash', `${outcome.error}\n${outcome.stack.split('\n').slice(1, 4).join('\n')}`);
      }
    }
  } finally {
    clearInterval(sampler);
    sample();
    await worker?.terminate();
  }
  stats.seconds = (performance.now() - started) / 1000;
  return stats;
}
