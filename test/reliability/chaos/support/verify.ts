/**
 * What the chaos run checks at the end: the repositories verify end to end, every Completed point's
 * data is present (and, for the points taken after the guests stopped writing, restores byte for
 * byte to the live disk), and no checkpoint is left on any simulated host.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import type { RecoveryPoint } from '../../../../controller/api/index.js';
import { referencePointAnnotation } from '../../../../controller/agent/backup-job.js';
import { restoreDisk } from '../../../../controller/datapath/restore.js';
import { openRepository } from '../../../../controller/datapath/open-repository.js';
import { openVirtualDisk } from '../../../../controller/disk/index.js';
import type { SimVm } from '../../../../controller/hypervisor/filehost/config.js';
import { Layout } from '../../../../controller/hypervisor/filehost/layout.js';
import { checkRepository } from '../../../../controller/repository/check.js';
import { repoRoot } from '../../../support/kube.js';

export interface RepoCheckResult {
  clean: boolean;
  /** The last line of `shadowkeep repo check --read-data`, or its error. */
  summary: string;
}

/** `shadowkeep repo check --read-data`, as an operator runs it: every chunk decrypted and verified. */
export async function checkWithCli(dir: string, keyFile: string): Promise<RepoCheckResult> {
  const result = await execa(
    path.join(repoRoot, 'bin/shadowkeep'),
    ['repo', 'check', '--read-data', '--repo', `file://${dir}`, '--key-file', keyFile],
    { reject: false, all: true },
  );
  const lines = result.all.trim().split('\n');
  return { clean: result.exitCode === 0, summary: lines.slice(-3).join(' / ') };
}

/**
 * Completed points whose data a restore could not fully read from the repository: a manifest that
 * is gone or unreadable, or a chunk the structural check finds missing. `copiedTo` selects the
 * points whose copy to that repository is Completed (an offsite repository); unset, all of them.
 */
export async function pointsWithMissingData(
  points: readonly RecoveryPoint[],
  dir: string,
  keyFile: string,
  copiedTo?: string,
): Promise<string[]> {
  const repo = await openRepository(dir, keyFile);
  const report = await checkRepository(repo);
  const damaged = new Set(report.problems.flatMap((p) => p.affectedManifests));
  const present = new Set(await repo.listManifestIds());
  const bad: string[] = [];
  for (const rp of points) {
    const completed = copiedTo
      ? rp.status?.copies?.some((c) => c.repository === copiedTo && c.phase === 'Completed')
      : rp.status?.phase === 'Completed';
    if (!completed) {
      continue;
    }
    const manifests = (rp.status?.disks ?? []).map((d) => d.manifest ?? '');
    if (manifests.length === 0 || manifests.some((m) => !present.has(m) || damaged.has(m))) {
      bad.push(rp.metadata.name);
    }
  }
  return bad;
}

/**
 * Restores the point's first disk and compares it with `expectedDisk` (the VM's live disk, or a copy
 * of it taken when the point was), 4 MiB at a time.
 */
export async function restoresTo(
  rp: RecoveryPoint,
  expectedDisk: string,
  dir: string,
  keyFile: string,
  scratch: string,
): Promise<boolean> {
  const manifest = rp.status?.disks?.[0]?.manifest;
  if (!manifest) {
    return false;
  }
  const repo = await openRepository(dir, keyFile);
  const out = path.join(scratch, `${rp.metadata.name}.raw`);
  await restoreDisk(repo, manifest, out, { format: 'raw', threads: 2 });
  const restored = await openVirtualDisk(out);
  const live = await openVirtualDisk(expectedDisk);
  try {
    if (restored.size !== live.size) {
      return false;
    }
    const step = 4 * 1024 * 1024;
    for (let offset = 0; offset < live.size; offset += step) {
      const length = Math.min(step, live.size - offset);
      if (!(await restored.read(offset, length)).equals(await live.read(offset, length))) {
        return false;
      }
    }
    return true;
  } finally {
    await restored.close();
    await live.close();
    await rm(out, { force: true });
  }
}

async function entries(folder: string): Promise<string[]> {
  return readdir(folder).catch(() => []);
}

/**
 * Checkpoints left on the simulated hosts once no backup runs: recovery checkpoints still
 * registered on a VM, checkpoint folders (disk copies or configuration copies) no registered
 * checkpoint owns, and change-tracking reference points no recovery point refers to.
 */
export async function orphanCheckpoints(
  simRoot: string,
  vmIds: readonly string[],
  points: readonly RecoveryPoint[],
): Promise<{ count: number; details: string[] }> {
  const layout = new Layout(simRoot);
  const referenced = new Set(
    points.flatMap((rp) => {
      const text = rp.metadata.annotations?.[referencePointAnnotation];
      return text ? [(JSON.parse(text) as { id: string }).id] : [];
    }),
  );
  const details: string[] = [];
  for (const id of vmIds) {
    const vm = JSON.parse(await readFile(layout.vmFile(id), 'utf8')) as SimVm;
    for (const c of vm.checkpoints) {
      details.push(`${vm.name}: recovery checkpoint ${c.id} (${c.label}) still registered`);
    }
    const registered = new Set(vm.checkpoints.map((c) => c.id));
    for (const folder of [`${vm.snapshotLocation}/${vm.id}`, `${layout.vmDir(id)}/checkpoints`]) {
      for (const name of await entries(folder)) {
        if (!registered.has(name)) {
          details.push(`${vm.name}: checkpoint folder ${folder}/${name} belongs to no checkpoint`);
        }
      }
    }
    for (const r of vm.referencePoints) {
      if (!referenced.has(r.id)) {
        details.push(
          `${vm.name}: reference point ${r.id} (${r.createdAt}) is referenced by no recovery point`,
        );
      }
    }
  }
  return { count: details.length, details };
}
