/**
 * Worker thread of the backup pipeline: opens the disk itself, reads runs of chunks into reused
 * buffers with one large read each, hashes every chunk and, for chunks that differ from the previous recovery point,
 * compresses and seals them. Only ids and sealed blobs cross back to the main thread, the blobs
 * as transferred ArrayBuffers (no copy).
 */
import { workerData } from 'node:worker_threads';
import { releaseNow } from '../common/release.js';
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

/** What a chunk became; a new chunk's sealed blob is still in parts, copied out per task. */
type Processed =
  Exclude<ChunkOutcome, { kind: 'new' }> | { kind: 'new'; id: string; parts: Buffer[]; size: number };

function processChunk(data: Buffer, previous: string | null | undefined): Processed {
  if (data.equals(zeros.subarray(0, data.length))) {
    return { kind: 'zero' };
  }
  const id = chunkId(keys.chunkId, data);
  const hex = id.toString('hex');
  if (hex === previous) {
    return { kind: 'same', id: hex };
  }
  const { parts, size } = encodeChunk(keys, id, data, setup.compressionLevel);
  return { kind: 'new', id: hex, parts, size };
}

/**
 * Copies a task's new blobs into one buffer, which is moved (not copied) to the main thread:
 * one allocation and one transfer per task rather than per chunk.
 */
function pack(processed: Processed[]): { result: ChunkResult; transfer: ArrayBuffer[] } {
  const total = processed.reduce((n, p) => n + (p.kind === 'new' ? p.size : 0), 0);
  if (total === 0) {
    return { result: { chunks: processed as ChunkOutcome[] }, transfer: [] };
  }
  const blobs = new Uint8Array(total);
  let at = 0;
  const chunks = processed.map((p): ChunkOutcome => {
    if (p.kind !== 'new') {
      return p;
    }
    const blob = blobs.subarray(at, at + p.size);
    for (const part of p.parts) {
      blobs.set(part, at);
      at += part.length;
      releaseNow(part);
    }
    return { kind: 'new', id: p.id, blob };
  });
  return { result: { chunks }, transfer: [blobs.buffer] };
}

async function processTask(task: ChunkTask): Promise<{ result: ChunkResult; transfer: ArrayBuffer[] }> {
  const buffer = spare.pop() ?? Buffer.allocUnsafeSlow(setup.chunkSize * chunksPerTask(setup.chunkSize));
  try {
    await disk.readInto(task.offset, buffer.subarray(0, task.length));
    return pack(
      task.previous.map((previous, k) => {
        const start = k * setup.chunkSize;
        return processChunk(buffer.subarray(start, Math.min(start + setup.chunkSize, task.length)), previous);
      }),
    );
  } finally {
    spare.push(buffer);
  }
}

serveTasks(processTask, () => disk.close());
