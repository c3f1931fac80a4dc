/**
 * Chaos on the real control plane: filehost agents, two controller replicas with leader election
 * and the kube-apiserver, killed with SIGKILL at random (seeded) moments while a `* * * * *`
 * policy backs VMs up and copies every point offsite. After the last fault the estate must
 * converge, with no duplicate, no corrupt or missing point, no checkpoint left behind and both
 * repositories verifying clean.
 *
 * SHADOWKEEP_RELIABILITY=short runs the CI size (4 VMs, about 4 minutes); unset or `full`, at
 * least 200 scheduled backups (20 VMs over 11 minutes). SHADOWKEEP_CHAOS_SEED repeats a run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { expect } from 'chai';
import { ChaosDriver, controlPlaneDir } from './support/chaos-driver.js';
import { firstQuietPoints, waitUntilConverged, waitUntilSettled } from './support/convergence.js';
import { startEstate, type Estate } from './support/estate.js';
import { planFaults, seededRandom } from './support/fault-plan.js';
import { computeFigures, formatTable } from './support/figures.js';
import { PointObserver } from './support/observer.js';
import { checkWithCli, orphanCheckpoints, pointsWithMissingData, restoresTo } from './support/verify.js';

const MiB = 1024 * 1024;
const short = process.env.SHADOWKEEP_RELIABILITY === 'short';
const size = short
  ? { vms: 4, windowMs: 100_000, extraKills: 0, convergeMs: 180_000 }
  : { vms: 20, windowMs: 11 * 60_000, extraKills: 2, convergeMs: 420_000 };
/** The run's log and figures go to stdout, beside mocha's report. */
const say = (text: string): void => {
  process.stdout.write(`${text}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('chaos: agents, controller replicas and the API server killed during scheduled backups', function () {
  this.timeout(size.windowMs + 2 * size.convergeMs + 10 * 60_000);
  let estate: Estate;
  let scratch: string;
  let stopEstate = (): Promise<void> => Promise.resolve();

  before(async () => {
    controlPlaneDir();
    scratch = await mkdtemp(path.join(tmpdir(), 'sk-chaos-restore-'));
    estate = await startEstate({
      vms: size.vms,
      hosts: 3,
      controllers: 2,
      diskBytes: 16 * MiB,
      offsite: true,
    });
    stopEstate = () => estate.stop();
  });

  after(async () => {
    await stopEstate();
    await rm(scratch, { recursive: true, force: true });
  });

  it('converges with no duplicate, no corrupt or missing point, no orphan checkpoint and clean repositories', async () => {
    const seed = Number(process.env.SHADOWKEEP_CHAOS_SEED ?? randomInt(2 ** 31));
    const plan = planFaults({
      seed,
      windowMs: size.windowMs,
      extraKills: size.extraKills,
      agents: estate.agents.length,
      controllers: estate.controllers.length,
      minDownMs: 2_000,
      maxDownMs: 15_000,
    });
    say(`chaos seed ${seed} (SHADOWKEEP_CHAOS_SEED=${seed} repeats this plan); logs in ${estate.logs}`);
    for (const f of plan) {
      say(`  planned +${(f.atMs / 1000).toFixed(1)}s ${f.kind} target ${f.target} down ${f.downMs} ms`);
    }
    const observer = new PointObserver(estate.clients, estate.namespace);
    observer.start();
    const startedAt = Date.now();

    // The guests keep writing through the faults, so successive points differ.
    const random = seededRandom(seed ^ 0x5eed);
    const guests = { writing: true };
    const writer = (async () => {
      while (guests.writing) {
        const vm = estate.vms[Math.floor(random() * estate.vms.length)]!;
        const offset = Math.floor(random() * 15) * MiB;
        const data = Buffer.alloc(256 * 1024, Math.floor(random() * 256));
        await estate.sim.guestWrite(vm.id, offset, data);
        await sleep(500);
      }
    })();

    const driver = new ChaosDriver(estate, startedAt, say);
    await driver.run(plan);
    guests.writing = false;
    await writer;
    const lastFaultAt = Math.max(...driver.records.map((r) => r.backAt));
    // The first schedule slot after the guests stopped writing: its points must equal the live disks.
    const quietSlot = Math.ceil((Date.now() + 1) / 60_000) * 60_000;

    const convergence = await waitUntilConverged(
      observer,
      estate.vms.map((vm) => vm.name),
      quietSlot,
      size.convergeMs,
    );
    expect(
      convergence.at,
      `converged within ${size.convergeMs / 1000}s of the last fault; not settled: ${convergence.unsettled.join(', ')}`,
    ).to.be.above(0);
    const convergedAt = convergence.at;

    // No new points from here on, so what is left can be counted and checked.
    await estate.setPolicySuspended(true);
    const points = await waitUntilSettled(observer);
    await observer.stop();

    const figures = computeFigures([...observer.points.values()]);
    const quiet = firstQuietPoints(
      points,
      estate.vms.map((vm) => vm.name),
      quietSlot,
    );
    const notLikeLive: string[] = [];
    for (const [i, rp] of quiet.entries()) {
      if (
        !rp ||
        !(await restoresTo(rp, estate.vms[i]!.disk, estate.primaryDir, estate.primaryKeyFile, scratch))
      ) {
        notLikeLive.push(
          rp?.metadata.name ?? `${estate.vms[i]!.name}: no point after the guests stopped writing`,
        );
      }
    }
    const missingPrimary = await pointsWithMissingData(points, estate.primaryDir, estate.primaryKeyFile);
    const missingOffsite = await pointsWithMissingData(
      points,
      estate.offsiteDir!,
      estate.offsiteKeyFile,
      'offsite',
    );
    const corrupt = [...new Set([...notLikeLive, ...missingPrimary, ...missingOffsite])];
    const orphans = await orphanCheckpoints(
      estate.simRoot,
      estate.vms.map((vm) => vm.id),
      points,
    );
    const primaryCheck = await checkWithCli(estate.primaryDir, estate.primaryKeyFile);
    const offsiteCheck = await checkWithCli(estate.offsiteDir!, estate.offsiteKeyFile);
    const kills = (kind: string): number => driver.records.filter((r) => r.fault.kind === kind).length;

    say(
      `\nChaos run (${short ? 'short' : 'full'}, seed ${seed}): ${size.vms} VMs on 3 hosts, 2 controller replicas, ${(size.windowMs / 60_000).toFixed(1)} min of faults\n` +
        formatTable([
          ['faults: agent kills', kills('kill-agent')],
          ['faults: leader kills', kills('kill-leader')],
          ['faults: replica kills (any)', kills('kill-controller')],
          ['faults: API server restarts', kills('restart-apiserver')],
          ['scheduled backups (VM x slot)', figures.scheduledSlots],
          ['recovery points Completed', figures.completed],
          ['recovery points Failed', figures.failed],
          ['  of which retried to Completed', figures.failedThenRetried],
          ['  failure reasons', JSON.stringify(figures.failureReasons)],
          ['slots without a Completed point', figures.slotsWithoutPoint],
          ['duplicates (goal 0)', figures.duplicates],
          ['corrupt or missing Completed points (goal 0)', corrupt.length],
          ['orphan checkpoints (goal 0)', orphans.count],
          ['time to converge after the last fault', `${((convergedAt - lastFaultAt) / 1000).toFixed(1)} s`],
          [
            'repo check --read-data primary',
            primaryCheck.clean ? 'clean' : `PROBLEMS: ${primaryCheck.summary}`,
          ],
          [
            'repo check --read-data offsite',
            offsiteCheck.clean ? 'clean' : `PROBLEMS: ${offsiteCheck.summary}`,
          ],
          ['API list errors seen by the observer', observer.listErrors],
        ]),
    );

    expect(kills('kill-agent')).to.be.at.least(1);
    expect(kills('kill-leader')).to.be.at.least(1);
    expect(kills('restart-apiserver')).to.equal(1);
    if (!short) {
      expect(figures.scheduledSlots, 'scheduled backups in a full run').to.be.at.least(200);
    }
    expect(figures.duplicates, 'two Completed points for one VM and slot').to.equal(0);
    expect(corrupt, 'Completed points whose data is corrupt or missing').to.deep.equal([]);
    expect(orphans.details, 'checkpoints left on the hosts').to.deep.equal([]);
    expect(primaryCheck, 'primary repository').to.include({ clean: true });
    expect(offsiteCheck, 'offsite repository').to.include({ clean: true });
  });
});
