/**
 * Frees a buffer's memory now instead of at the isolate's next garbage collection. The data
 * path's worker threads allocate hundreds of MiB per second in chunk-sized buffers; V8 collects
 * only after tens of MiB of them pile up per isolate, and glibc keeps what each thread freed in
 * that thread's arena, so without this a backup's resident memory was ~3x the data in flight.
 *
 * Only for buffers nothing else will read: the caller's own allocations and results handed to it
 * (zstd and cipher output). Small buffers may be slices of Node's shared pool and are left alone.
 */
export function releaseNow(buffer: Uint8Array): void {
  const memory = buffer.buffer;
  if (memory instanceof ArrayBuffer && !memory.detached && memory.byteLength > Buffer.poolSize) {
    memory.transfer(0);
  }
}
