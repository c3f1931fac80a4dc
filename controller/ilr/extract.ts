import { constants } from 'node:fs';
import { lstat, mkdir, open, utimes } from 'node:fs/promises';
import { join, relative, isAbsolute, sep } from 'node:path';
import type { ByteSource } from '../common/byte-source.js';
import type { NtfsFile } from '../ntfs/file-record.js';
import { UnsupportedError } from '../ntfs/errors.js';
import { describeReparsePoint, type ReparsePoint } from '../ntfs/reparse-point.js';
import { splitPath, type NtfsVolume } from '../ntfs/volume.js';
import { hostName } from './host-names.js';

/** Large enough to keep a repository-backed read efficient, small enough to bound memory. */
const COPY_BLOCK = 4 * 1024 * 1024;

export interface ExtractReport {
  files: number;
  directories: number;
  bytes: number;
  /** NTFS names written under another name because the host could not hold them as they are. */
  renamed: { ntfsPath: string; hostPath: string; reason: string }[];
  /** What a directory restore left out: EFS files, existing output files, alternate data streams. */
  skipped: { ntfsPath: string; reason: string }[];
}

export interface ExtractOptions {
  /** Fetch this alternate data stream of a file instead of its main stream. */
  stream?: string;
}

/** Junctions and directory links are never followed: they may point anywhere, even into a loop. */
function linkReason(point: ReparsePoint): string {
  return `${describeReparsePoint(point)}; not followed`;
}

/** Refuses any path that is not strictly below `root`, whatever produced it. */
function childOf(root: string, name: string): string {
  const path = join(root, name);
  const rel = relative(root, path);
  // One segment, not `..` itself: a name such as `..notes` is an ordinary file name.
  if (rel === '' || rel === '..' || isAbsolute(rel) || rel.includes('/') || rel.includes(sep)) {
    throw new Error(`refusing to write "${name}" outside ${root}`);
  }
  return path;
}

async function copyStream(stream: ByteSource, target: string): Promise<void> {
  // O_EXCL and O_NOFOLLOW: never overwrite, and never follow a symlink planted in the output tree.
  const handle = await open(
    target,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o644,
  );
  try {
    for (let offset = 0; offset < stream.size; offset += COPY_BLOCK) {
      const chunk = await stream.read(offset, Math.min(COPY_BLOCK, stream.size - offset));
      await handle.write(chunk, 0, chunk.length, offset);
    }
  } finally {
    await handle.close();
  }
}

async function ensureDirectory(path: string): Promise<void> {
  try {
    await mkdir(path);
  } catch (err) {
    const stat = await lstat(path).catch(() => null);
    if (!stat?.isDirectory()) {
      throw err;
    }
  }
}

class Extractor {
  readonly report: ExtractReport = { files: 0, directories: 0, bytes: 0, renamed: [], skipped: [] };

  constructor(private readonly volume: NtfsVolume) {}

  private target(outDir: string, ntfsPath: string, ntfsName: string): string {
    const host = hostName(ntfsName);
    const path = childOf(outDir, host.name);
    if (host.renamed !== undefined) {
      this.report.renamed.push({ ntfsPath, hostPath: path, reason: host.renamed });
    }
    return path;
  }

  async file(
    file: NtfsFile,
    ntfsPath: string,
    target: string,
    stream: string,
    strict: boolean,
  ): Promise<void> {
    try {
      const data = this.volume.openStream(file, stream);
      await copyStream(data, target);
      this.report.files += 1;
      this.report.bytes += data.size;
    } catch (err) {
      const exists = (err as NodeJS.ErrnoException).code === 'EEXIST';
      if (strict || !(err instanceof UnsupportedError || exists)) {
        throw err;
      }
      this.report.skipped.push({
        ntfsPath,
        reason: exists ? `${target} already exists` : (err as Error).message,
      });
      return;
    }
    await utimes(target, file.info.accessed, file.info.modified);
  }

  /** Directory restores copy main streams only; say which alternate streams stayed behind. */
  private noteAlternateStreams(file: NtfsFile, ntfsPath: string): void {
    for (const stream of this.volume.streams(file).filter((s) => s.name !== '')) {
      this.report.skipped.push({
        ntfsPath: `${ntfsPath}:${stream.name}`,
        reason: 'alternate data stream not copied in a directory restore (fetch the file with --stream)',
      });
    }
  }

  async directory(dir: NtfsFile, ntfsPath: string, target: string): Promise<void> {
    await ensureDirectory(target);
    this.report.directories += 1;
    for await (const entry of this.volume.listDirectory(dir)) {
      const childPath = `${ntfsPath === '/' ? '' : ntfsPath}/${entry.name}`;
      const child = await this.volume.readFile(entry.reference);
      const childTarget = this.target(target, childPath, entry.name);
      if (child.isDirectory && child.reparsePoint) {
        this.report.skipped.push({ ntfsPath: childPath, reason: linkReason(child.reparsePoint) });
      } else if (child.isDirectory) {
        await this.directory(child, childPath, childTarget);
      } else {
        await this.file(child, childPath, childTarget, '', false);
        this.noteAlternateStreams(child, childPath);
      }
    }
    await utimes(target, dir.info.accessed, dir.info.modified);
  }

  async run(ntfsPath: string, outDir: string, options: ExtractOptions): Promise<void> {
    const parts = splitPath(ntfsPath);
    const normalized = `/${parts.join('/')}`;
    const node = await this.volume.resolve(normalized);
    const name = parts.at(-1);
    if (node.isDirectory && node.reparsePoint) {
      throw new UnsupportedError(`${normalized}: ${linkReason(node.reparsePoint)}`);
    }
    if (node.isDirectory) {
      // The root has no name of its own: its contents go straight into the output directory.
      await this.directory(
        node,
        normalized,
        name === undefined ? outDir : this.target(outDir, normalized, name),
      );
      return;
    }
    const fileName = options.stream ? `${name ?? ''}_${options.stream}` : (name ?? '');
    await this.file(node, normalized, this.target(outDir, normalized, fileName), options.stream ?? '', true);
  }
}

/**
 * Copies a file, or a directory recursively, from the volume into `outDir` (which must exist).
 * Nothing is written outside `outDir`; names the host cannot hold are renamed and reported.
 */
export async function extract(
  volume: NtfsVolume,
  ntfsPath: string,
  outDir: string,
  options: ExtractOptions = {},
): Promise<ExtractReport> {
  const stat = await lstat(outDir);
  if (!stat.isDirectory()) {
    throw new Error(`${outDir} is not a directory`);
  }
  const extractor = new Extractor(volume);
  await extractor.run(ntfsPath, outDir, options);
  return extractor.report;
}
