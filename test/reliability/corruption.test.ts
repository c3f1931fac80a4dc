// Issue 11, part 3: bytes flipped at random in pack files, index objects and manifests, each trial
// on a fresh copy of a repository holding real backups. `repo check --read-data` must find every
// one (goal 100%) and name exactly the recovery points (manifests) the damage concerns.
// A new backup into the damaged repository must still succeed: damage to one recovery point must
// not stop protection of the rest, and every restore must either give back the undamaged disk or
// fail (never return damaged data).
import { expect } from 'chai';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { backupDisk } from '../../controller/datapath/backup.js';
import { restoreDisk } from '../../controller/datapath/restore.js';
import { checkRepository } from '../../controller/repository/check.js';
import { decodeIndex } from '../../controller/repository/chunk-index.js';
import { takeInventory } from '../../controller/repository/inventory.js';
import { packIdOfKey } from '../../controller/repository/layout.js';
import { readPackHeader } from '../../controller/repository/pack.js';
import { Repository } from '../../controller/repository/repository.js';
import { FilesystemStorage } from '../../controller/storage/filesystem.js';
import { backedUpRepository, storedKeys, type BackedUpRepository } from './support/backed-up-repository.js';
import { Rng } from './support/rng.js';
import { baseSeed, percent, printFigures, trials } from './support/settings.js';

type Kind = 'pack' | 'index' | 'manifest';
const KINDS: Kind[] = ['pack', 'index', 'manifest'];

interface Trial {
  kind: Kind;
  key: string;
  offsets: number[];
  detected: boolean;
  /** The report named every recovery point the damage affects, and no other. */
  namedExactly: boolean;
  missed: string[];
  overReported: string[];
  backupAfterwards: string;
  /** Recovery points whose restore went the wrong way: unaffected ones failing, affected ones succeeding. */
  wrongRestores: string[];
}

const kindOf = (key: string): Kind | undefined =>
  key.startsWith('packs/')
    ? 'pack'
    : key.startsWith('index/')
      ? 'index'
      : key.startsWith('manifests/')
        ? 'manifest'
        : undefined;

describe('corruption: flipped bytes in a repository', function () {
  this.timeout(30 * 60_000);
  let fixture: BackedUpRepository;
  /** Chunk id → manifests using it, in the undamaged repository: the ground truth. */
  let users: Map<string, string[]>;
  const results: Trial[] = [];

  before(async () => {
    fixture = await backedUpRepository();
    users = (await takeInventory(fixture.repo)).users;
  });
  after(async () => {
    await fixture.dir.remove();
  });

  const usersOf = (chunks: Iterable<string>) =>
    [...new Set([...chunks].flatMap((c) => users.get(c) ?? []))].sort();

  /**
   * Which recovery points damage at `offsets` of `key` concerns: `named`, those check must report
   * (a damaged pack header or trailer concerns every point using the pack: the pack can no longer
   * be verified, and the index could not be rebuilt from it); `unrestorable`, those whose restore
   * must fail (a damaged blob, a lost index entry, a damaged manifest).
   */
  async function affectedBy(
    kind: Kind,
    key: string,
    offsets: number[],
  ): Promise<{ named: string[]; unrestorable: string[] }> {
    if (kind === 'manifest') {
      const id = [key.slice('manifests/'.length)];
      return { named: id, unrestorable: id };
    }
    if (kind === 'index') {
      const entries = decodeIndex(await fixture.repo.getObject(key), key);
      const users = usersOf(entries.map((e) => e.id));
      return { named: users, unrestorable: users };
    }
    const data = await readFile(`${fixture.root}/${key}`);
    const entries = await readPackHeader(fixture.repo.keys, packIdOfKey(key), data.length, (o, l) =>
      Promise.resolve(data.subarray(o, o + l)),
    );
    const hit = (offset: number) => entries.find((e) => offset >= e.offset && offset < e.offset + e.length);
    const blobs = offsets.flatMap((o) => hit(o)?.id ?? []);
    const inHeader = offsets.some((o) => !hit(o));
    return {
      named: usersOf(inHeader ? entries.map((e) => e.id) : blobs),
      unrestorable: usersOf(blobs),
    };
  }

  it('check --read-data detects every damaged object and names exactly the recovery points it affects', async () => {
    const keys = (await storedKeys(fixture.root)).filter((k) => kindOf(k) !== undefined);
    const count = trials(100, 15);
    for (let i = 0; i < count; i++) {
      const rng = new Rng(Rng.seedFor(baseSeed, 'corruption', i));
      const kind = KINDS[i % KINDS.length]!;
      const key = rng.pick(keys.filter((k) => kindOf(k) === kind));
      const copy = fixture.dir.file(`trial-${i}`);
      await cp(fixture.root, copy, { recursive: true });
      const data = await readFile(`${copy}/${key}`);
      const offsets = [...new Set(Array.from({ length: 1 + rng.below(4) }, () => rng.below(data.length)))];
      for (const o of offsets) {
        data[o] = data[o]! ^ rng.nonZeroByte();
      }
      await writeFile(`${copy}/${key}`, data);

      const { named: expected, unrestorable } = await affectedBy(kind, key, offsets);
      const damaged = await Repository.open(new FilesystemStorage(copy), fixture.key);
      const report = await checkRepository(damaged, { readData: true });
      const named = [...new Set(report.problems.flatMap((p) => p.affectedManifests))].sort();
      const wrongRestores: string[] = [];
      for (const m of fixture.manifests) {
        const restored = await restoreDisk(damaged, m.id, `${copy}/restored.raw`).then(
          () => true,
          () => false,
        );
        await rm(`${copy}/restored.raw`, { force: true });
        if (restored === unrestorable.includes(m.id)) {
          wrongRestores.push(`${m.id}: ${restored ? 'restored despite damage' : 'failed though undamaged'}`);
        }
      }
      const [disk] = fixture.disks;
      const backupAfterwards = await backupDisk(damaged, disk!.path, { name: disk!.name, threads: 1 }).then(
        () => 'ok',
        (err: unknown) => (err instanceof Error ? err.message : String(err)),
      );
      results.push({
        kind,
        key,
        offsets,
        detected: report.problems.length > 0,
        namedExactly: JSON.stringify(named) === JSON.stringify(expected),
        missed: expected.filter((m) => !named.includes(m)),
        overReported: named.filter((m) => !expected.includes(m)),
        backupAfterwards,
        wrongRestores,
      });
      await rm(copy, { recursive: true, force: true });
    }

    printFigures(
      'Corruption: random byte flips, repo check --read-data',
      KINDS.map((kind) => {
        const of = results.filter((r) => r.kind === kind);
        return {
          object: kind,
          trials: of.length,
          detected: percent(of.filter((r) => r.detected).length, of.length),
          'affected RPs named exactly': percent(of.filter((r) => r.namedExactly).length, of.length),
          'restores right': percent(of.filter((r) => r.wrongRestores.length === 0).length, of.length),
          'new backup succeeds': percent(of.filter((r) => r.backupAfterwards === 'ok').length, of.length),
        };
      }),
    );
    const failures = results.filter(
      (r) => !r.detected || !r.namedExactly || r.backupAfterwards !== 'ok' || r.wrongRestores.length > 0,
    );
    expect(failures, JSON.stringify(failures, null, 2)).to.deep.equal([]);
  });
});
