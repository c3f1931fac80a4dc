/**
 * Worker thread of the backup pipeline: runs the chunk processor on its own copy of the disk.
 * Only ids and sealed blobs cross back to the main thread, the blobs as transferred ArrayBuffers.
 */
import { workerData } from 'node:worker_threads';
import type { WorkerSetup } from './chunk-pool.js';
import { openChunkProcessor } from './chunk-processor.js';
import { serveTasks } from './worker-tasks.js';

const processor = await openChunkProcessor(workerData as WorkerSetup, { onWorkerThread: true });
serveTasks(
  (task) => processor.process(task),
  () => processor.close(),
);
