/**
 * A repository holding a few real backups of real VHDX disks (qemu-img), for the corruption and
 * plaintext checks: two disks, one of them backed up twice (a full and an incremental), small
 * chunks and packs so every object class has several members.
 */
import { readdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { backupDisk } from '../../../controller/datapath/backup.js';
import type { Manifest } from '../../../controller/repository/manifest.js';
import type { Repository } from '../../../controller/repository/repository.js';
import { MiB, convertImage, makeRawImage, qemuIo, tempDir, type TempDir } from '../../support/disk-images.js';
import { makeRepository } from '../../support/repositories.js';

export interface BackedUpRepository {
  dir: TempDir;
  /** The repository's folder (filesystem backend). */
  root: string;
  repo: Repository;
  key: Buffer;
  disks: { name: string; path: string }[];
  manifests: Manifest[];
}

/** Writes `marker` into the first disk at these offsets before its first backup, when given. */
export async function backedUpRepository(
  options: { marker?: string; markerOffsets?: number[] } = {},
): Promise<BackedUpRepository> {
  const dir = await tempDir('shadowkeep-reliability-');
  const root = dir.file('repo');
  const { repo, key } = await makeRepository(root, { chunkSize: 64 * 1024, packSize: 256 * 1024 });
  const disks = [];
  for (const [i, name] of ['sql01/disk0', 'web01/disk0'].entries()) {
    const raw = dir.file(`disk${i}.raw`);
    await makeRawImage(raw, 16 * MiB, [
      { offset: 0, length: 512 * 1024 },
      { offset: 5 * MiB + 4096, length: 700 * 1024 },
    ]);
    const path = await convertImage(raw, dir.file(`disk${i}.vhdx`), 'vhdx', ['block_size=1M']);
    disks.push({ name, path });
  }
  const [first] = disks;
  if (options.marker && first) {
    for (const offset of options.markerOffsets ?? [0]) {
      // qemu-io's -s writes a pattern file: the marker as a guest would hold it in a file's data.
      const pattern = dir.file('marker.txt');
      await writeFile(pattern, options.marker);
      await qemuIo(first.path, 'vhdx', `write -s ${pattern} ${offset} ${options.marker.length}`);
    }
  }
  const manifests: Manifest[] = [];
  for (const disk of disks) {
    manifests.push(await backupDisk(repo, disk.path, { name: disk.name, threads: 1 }));
  }
  if (first) {
    await qemuIo(first.path, 'vhdx', 'write -P 0x5a 5M 128k', 'write -P 0xa5 9M 64k');
    manifests.push(await backupDisk(repo, first.path, { name: first.name, threads: 1 }));
  }
  return { dir, root, repo, key, disks, manifests };
}

/** Every stored file of a repository folder, as keys relative to its root. */
export async function storedKeys(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();
}
