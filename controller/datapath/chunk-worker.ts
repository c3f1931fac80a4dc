/**
 * Worker thread of the backup pipeline: opens the disk itself, reads runs of chunks into reused
 * buffers with one large read each, hashes every chunk and, for chunks that differ from the previous recovery point,
 * compresses and seals them. Only ids and sealed blobs cross back to the main thread, the blobs
 * as transferred ArrayBuffers (no copy).
 */
import { workerData } from 'node:worker_threads';
import { openVirtualDisk } from '../disk/open.js';
import { encodeChunk } from '../repository/codec.js';
import { chunkId } from '../repository/crypto.js';
import {
  chunksPerTask,
  type ChunkOutcome,
  type ChunkResult,
  type ChunkTask,
  type WorkerSetup,
} from './chunk-pool.js';
import { serveTasks } from './worker-tasks.js';

const setup = workerData as WorkerSetup;
const keys = { encryption: Buffer.from(setup.encryptionKey), chunkId: Buffer.from(setup.chunkIdKey) };
const disk = await openVirtualDisk(setup.diskPath);
const zeros = Buffer.alloc(setup.chunkSize);
const spare: Buffer[] = [];

function processChunk(
  data: Buffer,
  previous: string | null | undefined,
  transfer: ArrayBuffer[],
): ChunkOutcome {
  if (data.equals(zeros.subarray(0, data.length))) {
    return { kind: 'zero' };
  }
  const id = chunkId(keys.chunkId, data);
  const hex = id.toString('hex');
  if (hex === previous) {
    return { kind: 'same', id: hex };
  }
  const encoded = encodeChunk(keys, id, data, setup.compressionLevel);
  const blob = new Uint8Array(encoded.size);
  let at = 0;
  for (const part of encoded.parts) {
    blob.set(part, at);
    at += part.length;
  }
  transfer.push(blob.buffer);
  return { kind: 'new', id: hex, blob };
}

async function processTask(task: ChunkTask): Promise<{ result: ChunkResult; transfer: ArrayBuffer[] }> {
  const buffer = spare.pop() ?? Buffer.allocUnsafeSlow(setup.chunkSize * chunksPerTask(setup.chunkSize));
  try {
    await disk.readInto(task.offset, buffer.subarray(0, task.length));
    const transfer: ArrayBuffer[] = [];
    const chunks = task.previous.map((previous, k) => {
      const start = k * setup.chunkSize;
      return processChunk(
        buffer.subarray(start, Math.min(start + setup.chunkSize, task.length)),
        previous,
        transfer,
      );
    });
    return { result: { chunks }, transfer };
  } finally {
    spare.push(buffer);
  }
}

serveTasks(processTask, () => disk.close());
