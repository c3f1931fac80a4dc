/**
 * Worker thread of restores: fetches a span of a pack, decrypts and verifies each chunk, and
 * writes it straight into the output file at every position the manifest uses it. Nothing but
 * byte counts crosses back to the main thread.
 */
import { open } from 'node:fs/promises';
import { workerData } from 'node:worker_threads';
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

function fileOffset(virtualOffset: number, length: number): number {
  return setup.vhdx
    ? vhdxFileOffset(setup.vhdx.blockOffsets, setup.vhdx.blockSize, virtualOffset, length)
    : virtualOffset;
}

serveTasks(
  async (span: Span): Promise<{ result: RestoreResultPart }> => {
    const data = await storage.getRange(packKey(span.pack), span.offset, span.length);
    let bytesWritten = 0;
    for (const c of span.chunks) {
      const start = c.location.offset - span.offset;
      const plain = decodeChunk(
        keys,
        Buffer.from(c.id, 'hex'),
        data.subarray(start, start + c.location.length),
      );
      for (const position of c.positions) {
        await out.write(plain, 0, plain.length, fileOffset(position * setup.chunkSize, plain.length));
        bytesWritten += plain.length;
      }
    }
    return { result: { bytesWritten, bytesFetched: data.length } };
  },
  () => out.close(),
);
