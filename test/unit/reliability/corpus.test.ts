// Every input the fuzzer once crashed a parser with (test/reliability/corpus) is now refused with a
// documented error, quickly: the fuzzing findings of issue 11, kept as regression tests.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { tempDir, type TempDir } from '../../support/disk-images.js';
import { repoRoot } from '../../support/kube.js';
import { TARGETS, type TargetName } from '../../reliability/support/fuzz-targets.js';

const corpus = join(repoRoot, 'test/reliability/corpus');
const folders = readdirSync(corpus, { withFileTypes: true }).filter((e) => e.isDirectory());

describe('fuzzing regression inputs', () => {
  let scratch: TempDir;
  before(async () => {
    scratch = await tempDir();
  });
  after(() => scratch.remove());

  for (const folder of folders) {
    const name = folder.name.replaceAll('-', ' ') as TargetName;
    for (const file of readdirSync(join(corpus, folder.name))) {
      it(`${name}: ${file} is refused with a documented error`, async () => {
        const raw = readFileSync(join(corpus, folder.name, file));
        const input = file.endsWith('.gz') ? gunzipSync(raw) : raw;
        const target = TARGETS[name];
        const started = performance.now();
        const err = await target
          .run(input, { scratch: scratch.path, keyMaterial: randomBytes(32).toString('hex') })
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(err, 'the input was accepted').to.be.instanceOf(Error);
        expect(
          target.allowed.some((type) => err instanceof type),
          String(err),
        ).to.be.true;
        expect((err as Error).message).to.have.length.above(20);
        // Refused up front, not after the work a hostile input asks for (a 2 GiB key derivation).
        expect(performance.now() - started).to.be.below(1000);
      });
    }
  }
});
