/**
 * The worker side of WorkerPool: runs `handle` for each task, replies with its result (moving
 * the listed ArrayBuffers instead of copying them), and calls `cleanup` when the pool closes.
 */
import { parentPort } from 'node:worker_threads';

export function serveTasks(
  // `never`: each worker's handler takes its own task type, which the pool's caller guarantees.
  handle: (task: never) => Promise<{ result: unknown; transfer?: ArrayBuffer[] }>,
  cleanup: () => Promise<void>,
): void {
  const port = parentPort;
  if (!port) {
    throw new Error('serveTasks must run in a worker thread');
  }
  port.on('message', (message: { seq: number; task: never } | 'close') => {
    if (message === 'close') {
      void cleanup().finally(() => {
        port.close();
      });
      return;
    }
    handle(message.task).then(
      ({ result, transfer }) => {
        port.postMessage({ seq: message.seq, result }, transfer ?? []);
      },
      (err: unknown) => {
        port.postMessage({ seq: message.seq, error: err instanceof Error ? err.message : String(err) });
      },
    );
  });
  port.postMessage('ready');
}
