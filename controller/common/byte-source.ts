/**
 * Random read access to a virtual disk's bytes, whatever holds them: a raw image, a VHDX/VHD file,
 * or a recovery point in a repository. Parsers (partition tables, NTFS) read through this only.
 */
export interface ByteSource {
  /** Size in bytes of the virtual disk (or volume) this source exposes. */
  readonly size: number;
  /** Reads exactly `length` bytes at `offset`; bytes past the end read as a RangeError, never garbage. */
  read(offset: number, length: number): Promise<Buffer>;
}

/** A window onto part of another source, such as one partition of a disk. */
export function sliceSource(source: ByteSource, start: number, length: number): ByteSource {
  if (start < 0 || length < 0 || start + length > source.size) {
    throw new RangeError(`slice ${start}+${length} lies outside a source of ${source.size} bytes`);
  }
  return {
    size: length,
    read(offset, len) {
      if (offset < 0 || len < 0 || offset + len > length) {
        return Promise.reject(
          new RangeError(`read ${offset}+${len} lies outside a slice of ${length} bytes`),
        );
      }
      return source.read(start + offset, len);
    },
  };
}
