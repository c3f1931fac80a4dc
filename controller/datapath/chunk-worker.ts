/**
 * Worker thread of the backup pipeline: opens the disk itself, reads runs of chunks into reused
 * buffers with one large read each, hashes every chunk and, for chunks that differ from the previous recovery point,
 * compresses and seals them. Only ids and sealed blobs cross back to the main thread, the blobs
 * as transferred ArrayBuffers (no copy).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openVirtualDisk } from '../disk/open.js';
import { encodeChunk } from '../repository/codec.js';
import { chunkId } from '../repository/crypto.js';
import {
  chunksPerTask,
  type ChunkOutcome,
  type ChunkResult,
  type ChunkTask,
  type WorkerReply,
  type WorkerSetup,
} from './chunk-pool.js';

const setup = workerData as WorkerSetup;
const keys = { encryption: Buffer.from(setup.encryptionKey), chunkId: Buffer.from(setup.chunkIdKey) };
const disk = await openVirtualDisk(setup.diskPath);
const zeros = Buffer.alloc(setup.chunkSize);
const spare: Buffer[] = [];
const port = parentPort;
if (!port) {
  throw new Error('chunk-worker must run as a worker thread');
}

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
    return { result: { seq: task.seq, chunks }, transfer };
  } finally {
    spare.push(buffer);
  }
}

port.on('message', (task: ChunkTask | 'close') => {
  if (task === 'close') {
    void disk.close().then(() => {
      port.close();
    });
    return;
  }
  processTask(task).then(
    ({ result, transfer }) => {
      port.postMessage(result, transfer);
    },
    (err: unknown) => {
      port.postMessage({
        seq: task.seq,
        error: err instanceof Error ? err.message : String(err),
      } satisfies WorkerReply);
    },
  );
});
port.postMessage('ready');
