/**
 * Worker thread of restores: fetches a span of a pack, decrypts and verifies each chunk, and
 * writes it straight into the output file at every position the manifest uses it. Nothing but
 * byte counts crosses back to the main thread.
 */
import { open } from 'node:fs/promises';
import { workerData } from 'node:worker_threads';
import { releaseNow } from '../common/release.js';
import { writeParts } from '../common/write-parts.js';
import { vhdxFileOffset } from '../disk/vhdx-writer.js';
import { decodeChunk } from '../repository/codec.js';
import { packKey } from '../repository/layout.js';
import { openLocation } from '../storage/open.js';
import type { Span } from './chunk-reads.js';
import type { RestoreResultPart, RestoreSetup } from './restore.js';
import { serveTasks } from './worker-tasks.js';

const setup = workerData as RestoreSetup;
const keys = { encryption: Buffer.from(setup.encryptionKey), chunkId: Buffer.from(setup.chunkIdKey) };
const storage = openLocation(setup.storage);
const out = await open(setup.out, 'r+');
/** Well under IOV_MAX (1024 on Linux). */
const MAX_IOVECS = 512;

function fileOffset(virtualOffset: number, length: number): number {
  return setup.vhdx
    ? vhdxFileOffset(setup.vhdx.blockOffsets, setup.vhdx.blockSize, virtualOffset, length)
    : virtualOffset;
}

/** Writes every (offset, data) pair, merging runs that are adjacent in the file into one writev. */
async function writeRuns(writes: { at: number; data: Buffer }[]): Promise<void> {
  writes.sort((a, b) => a.at - b.at);
  let run: Buffer[] = [];
  let start = 0;
  let end = -1;
  for (const w of writes) {
    if (w.at !== end || run.length >= MAX_IOVECS) {
      await writeParts(out, run, start);
      run = [];
      start = end = w.at;
    }
    run.push(w.data);
    end += w.data.length;
  }
  await writeParts(out, run, start);
}

serveTasks(
  async (span: Span): Promise<{ result: RestoreResultPart }> => {
    const data = await storage.getRange(packKey(span.pack), span.offset, span.length);
    const writes: { at: number; data: Buffer }[] = [];
    for (const c of span.chunks) {
      const start = c.location.offset - span.offset;
      const plain = decodeChunk(
        keys,
        Buffer.from(c.id, 'hex'),
        data.subarray(start, start + c.location.length),
        setup.chunkSize,
      );
      for (const position of c.positions) {
        writes.push({ at: fileOffset(position * setup.chunkSize, plain.length), data: plain });
      }
    }
    await writeRuns(writes);
    const bytesWritten = writes.reduce((n, w) => n + w.data.length, 0);
    const bytesFetched = data.length;
    // Written: free the span and its chunks now rather than at the next garbage collection.
    for (const w of writes) {
      releaseNow(w.data);
    }
    releaseNow(data);
    return { result: { bytesWritten, bytesFetched } };
  },
  () => out.close(),
);
