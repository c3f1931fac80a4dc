/**
 * Writes parts back to back at a file position with as few system calls as the kernel allows:
 * one writev for many buffers instead of one write (and one thread-pool round trip) each.
 */
import type { FileHandle } from 'node:fs/promises';

export async function writeParts(
  handle: FileHandle,
  parts: readonly Uint8Array[],
  position: number,
): Promise<void> {
  let rest = parts.filter((p) => p.length > 0);
  let at = position;
  while (rest.length > 0) {
    let { bytesWritten } = await handle.writev(rest, at);
    at += bytesWritten;
    // A short write: continue from the first byte that did not go out.
    while (rest.length > 0 && bytesWritten >= (rest[0]?.length ?? 0)) {
      bytesWritten -= rest[0]?.length ?? 0;
      rest = rest.slice(1);
    }
    const first = rest[0];
    if (bytesWritten > 0 && first) {
      rest = [first.subarray(bytesWritten), ...rest.slice(1)];
    }
  }
}
