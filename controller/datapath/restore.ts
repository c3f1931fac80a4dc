/**
 * Rebuilds a disk from a manifest as a raw image or a dynamic VHDX. Every chunk is decrypted and
 * checked against its id before it is written; zero chunks are never written (sparse output).
 * Output goes to `<out>.partial` and is renamed into place only when complete.
 */
import { open, rename, rm } from 'node:fs/promises';
import { DynamicVhdxWriter } from '../disk/vhdx-writer.js';
import { decodeChunk } from '../repository/codec.js';
import { packKey } from '../repository/layout.js';
import type { Manifest } from '../repository/manifest.js';
import type { Repository } from '../repository/repository.js';
import { planSpans } from './chunk-reads.js';

export type RestoreFormat = 'raw' | 'vhdx';

export interface RestoreOptions {
  format?: RestoreFormat;
  /** Spans read and decoded at once. */
  concurrency?: number;
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

export interface RestoreResult {
  manifest: Manifest;
  bytesWritten: number;
  bytesFetched: number;
  seconds: number;
}

interface DiskSink {
  write(offset: number, data: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

const VHDX_BLOCK_SIZE = 32 * 1024 * 1024;

async function rawSink(path: string, size: number): Promise<DiskSink> {
  const handle = await open(path, 'w');
  await handle.truncate(size);
  return {
    write: async (offset, data) => {
      await handle.write(data, 0, data.length, offset);
    },
    close: async () => {
      await handle.sync();
      await handle.close();
    },
  };
}

function vhdxSink(path: string, manifest: Manifest): Promise<DiskSink> {
  const { disk, chunkSize, chunks } = manifest;
  const blockSize = Math.max(VHDX_BLOCK_SIZE, chunkSize);
  const perBlock = blockSize / chunkSize;
  const sector = (n: number): 512 | 4096 => (n === 4096 ? 4096 : 512);
  return DynamicVhdxWriter.create(
    path,
    {
      virtualSize: disk.virtualSize,
      blockSize,
      logicalSectorSize: sector(disk.logicalSectorSize),
      physicalSectorSize: sector(disk.physicalSectorSize),
    },
    (block) => chunks.slice(block * perBlock, (block + 1) * perBlock).some((id) => id !== null),
  );
}

export async function restoreDisk(
  repo: Repository,
  manifestId: string,
  out: string,
  options: RestoreOptions = {},
): Promise<RestoreResult> {
  const started = performance.now();
  const manifest = await repo.loadManifest(manifestId);
  const spans = planSpans(manifest.chunks, await repo.loadIndex(), manifest.id);
  const { virtualSize } = manifest.disk;
  const partial = `${out}.partial`;
  const sink =
    options.format === 'vhdx' ? await vhdxSink(partial, manifest) : await rawSink(partial, virtualSize);
  let bytesWritten = 0;
  let bytesFetched = 0;
  let done = manifest.chunks.filter((id) => id === null).length * manifest.chunkSize;
  try {
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let span = spans[next++]; span; span = spans[next++]) {
        const data = await repo.storage.getRange(packKey(span.pack), span.offset, span.length);
        bytesFetched += data.length;
        for (const c of span.chunks) {
          const start = c.location.offset - span.offset;
          const plain = decodeChunk(
            repo.keys,
            Buffer.from(c.id, 'hex'),
            data.subarray(start, start + c.location.length),
          );
          for (const position of c.positions) {
            await sink.write(position * manifest.chunkSize, plain);
            bytesWritten += plain.length;
            done += manifest.chunkSize;
          }
        }
        options.onProgress?.(Math.min(done, virtualSize), virtualSize);
      }
    };
    await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
    await sink.close();
    await rename(partial, out);
  } catch (err) {
    await sink.close().catch(() => undefined);
    await rm(partial, { force: true });
    throw err;
  }
  return { manifest, bytesWritten, bytesFetched, seconds: (performance.now() - started) / 1000 };
}
