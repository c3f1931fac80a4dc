// Issue 11, part 4: the disk, partition, NTFS and repository parsers fed mutated real inputs by a
// structured, seeded mutator (support/mutator.ts; Jazzer.js's native fuzzer needs glibc 2.38, newer
// than this machine's). Contract: only the documented error types escape, no input runs longer than
// the time bound, no input exceeds the heap limit. Findings are saved for replay; fixed ones live on
// as regression inputs in test/reliability/corpus, replayed by test/unit/reliability/corpus.test.ts.
import { expect } from 'chai';
import { tempDir, type TempDir } from '../support/disk-images.js';
import { fuzzBases, type Base } from './support/fuzz-bases.js';
import { fuzzTarget, type FuzzStats } from './support/fuzz-runner.js';
import { baseSeed, printFigures, trials } from './support/settings.js';

const TIMEOUT_MS = 5000;
const HEAP_LIMIT_MB = 256;
/** The whole process (test runner, worker, Buffers outside the heap) stays under this. */
const RSS_LIMIT_MB = 1536;

describe('fuzzing the parsers with mutated real inputs', function () {
  this.timeout(60 * 60_000);
  let dir: TempDir;
  let bases: Base[];
  let remove = (): Promise<void> => Promise.resolve();
  const results: FuzzStats[] = [];

  before(async () => {
    dir = await tempDir('shadowkeep-fuzz-');
    ({ bases, remove } = await fuzzBases(dir));
  });
  after(async () => {
    printFigures(
      `Fuzzing: structured mutations of real inputs (time bound ${TIMEOUT_MS} ms, heap limit ${HEAP_LIMIT_MB} MiB per input)`,
      results.map((r) => ({
        parser: r.target,
        inputs: r.inputs,
        'refused (documented error)': r.refused,
        accepted: r.accepted,
        crashes: r.findings.filter((f) => f.kind === 'crash').length,
        hangs: r.findings.filter((f) => f.kind === 'hang').length,
        'over memory': r.findings.filter((f) => f.kind === 'memory').length,
        'slowest ms': Math.round(r.maxMs),
        'peak RSS MiB': Math.round(r.peakRssMb),
        'inputs/s': Math.round(r.inputs / r.seconds),
      })),
    );
    await remove();
    await dir.remove();
  });

  for (const target of [
    'vhdx',
    'vhd',
    'gpt',
    'mbr',
    'ntfs',
    'repository config',
    'repository manifest',
    'repository index',
    'repository pack',
    'repository pack header',
  ] as const) {
    it(`${target}: only documented errors, no hang, bounded memory`, async () => {
      const base = bases.find((b) => b.target === target)!;
      // The config carries the scrypt-wrapped key: each input costs a key derivation.
      const inputs = target === 'repository config' ? trials(1000, 20) : trials(10_000, 150);
      const stats = await fuzzTarget({
        ...base,
        inputs,
        seed: baseSeed,
        timeoutMs: TIMEOUT_MS,
        heapLimitMb: HEAP_LIMIT_MB,
      });
      results.push(stats);
      expect(stats.peakRssMb, 'peak resident memory in MiB').to.be.below(RSS_LIMIT_MB);
      expect(stats.findings, JSON.stringify(stats.findings.slice(0, 5), null, 2)).to.deep.equal([]);
    });
  }
});
