/**
 * Worker thread of the backup pipeline: opens the disk itself, reads its share of chunks into
 * reused buffers, hashes them and, for chunks that differ from the previous recovery point,
 * compresses and seals them. Only ids and sealed blobs cross back to the main thread, the blobs
 * as transferred ArrayBuffers (no copy).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openVirtualDisk } from '../disk/open.js';
import { encodeChunk } from '../repository/codec.js';
import { chunkId } from '../repository/crypto.js';
import type { ChunkResult, ChunkTask, WorkerReply, WorkerSetup } from './chunk-pool.js';

const setup = workerData as WorkerSetup;
const keys = { encryption: Buffer.from(setup.encryptionKey), chunkId: Buffer.from(setup.chunkIdKey) };
const disk = await openVirtualDisk(setup.diskPath);
const zeros = Buffer.alloc(setup.chunkSize);
const spare: Buffer[] = [];
const port = parentPort;
if (!port) {
  throw new Error('chunk-worker must run as a worker thread');
}

async function processChunk(task: ChunkTask): Promise<{ result: ChunkResult; transfer: ArrayBuffer[] }> {
  const buffer = spare.pop() ?? Buffer.allocUnsafeSlow(setup.chunkSize);
  try {
    const data = buffer.subarray(0, task.length);
    await disk.readInto(task.offset, data);
    if (data.equals(zeros.subarray(0, task.length))) {
      return { result: { seq: task.seq, kind: 'zero' }, transfer: [] };
    }
    const id = chunkId(keys.chunkId, data);
    const hex = id.toString('hex');
    if (hex === task.previous) {
      return { result: { seq: task.seq, kind: 'same', id: hex }, transfer: [] };
    }
    const encoded = encodeChunk(keys, id, data, setup.compressionLevel);
    const blob = new Uint8Array(encoded.size);
    let at = 0;
    for (const part of encoded.parts) {
      blob.set(part, at);
      at += part.length;
    }
    return { result: { seq: task.seq, kind: 'new', id: hex, blob }, transfer: [blob.buffer] };
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
  processChunk(task).then(
    ({ result, transfer }) => {
      port.postMessage(result, transfer);
    },
    (err: unknown) => {
      port.postMessage({
        seq: task.seq,
        kind: 'error',
        message: err instanceof Error ? err.message : String(err),
      } satisfies WorkerReply);
    },
  );
});
port.postMessage('ready');
