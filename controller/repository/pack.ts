/**
 * Pack files: many sealed chunk blobs in one object, sized for object storage, followed by a
 * sealed header listing them and an 8-byte trailer (header length, magic). Blobs are sealed under
 * their chunk id, not the pack, so garbage collection can copy them between packs untouched.
 */
import { randomBytes } from 'node:crypto';
import { sealToBuffer, unseal, type RepositoryKeys } from './crypto.js';
import { decodeIndex, encodeIndex, type IndexEntry } from './chunk-index.js';
import { IntegrityError } from './errors.js';

const MAGIC = 'SKP1';
const TRAILER = 8;

function headerAad(packId: string): Buffer {
  return Buffer.from(`pack header ${packId}`);
}

export function newPackId(): string {
  return randomBytes(16).toString('hex');
}

/**
 * Collects sealed blobs until the pack is full, copied into one buffer that the caller provides
 * and gets back from `finish` to reuse: a backup then holds two or three pack buffers for its
 * whole run instead of keeping every arriving blob's memory alive until a pack is written.
 */
export class PackBuilder {
  readonly id = newPackId();
  private readonly entries: IndexEntry[] = [];
  private length = 0;

  constructor(private data: Buffer) {}

  get size(): number {
    return this.length;
  }
  get count(): number {
    return this.entries.length;
  }

  add(chunkId: string, blob: readonly Uint8Array[]): IndexEntry {
    const size = blob.reduce((n, part) => n + part.length, 0);
    if (this.length + size > this.data.length) {
      // Only a blob larger than the buffer's headroom gets here (chunk sizes above a few MiB).
      const larger = Buffer.allocUnsafeSlow(Math.max(this.length + size, this.data.length * 2));
      this.data.copy(larger, 0, 0, this.length);
      this.data = larger;
    }
    const entry = { id: chunkId, pack: this.id, offset: this.length, length: size };
    for (const part of blob) {
      this.data.set(part, this.length);
      this.length += part.length;
    }
    this.entries.push(entry);
    return entry;
  }

  /**
   * The pack's bytes as parts (blobs, sealed header, trailer), the index entries it holds, and
   * the buffer to reuse once the parts are written.
   */
  finish(keys: RepositoryKeys): { parts: Buffer[]; entries: IndexEntry[]; size: number; buffer: Buffer } {
    const header = sealToBuffer(keys.encryption, [encodeIndex(this.entries)], headerAad(this.id));
    const trailer = Buffer.alloc(TRAILER);
    trailer.writeUInt32LE(header.length, 0);
    trailer.write(MAGIC, 4, 'latin1');
    return {
      parts: [this.data.subarray(0, this.length), header, trailer],
      entries: this.entries,
      size: this.length + header.length + TRAILER,
      buffer: this.data,
    };
  }
}

/** Reads the header of a pack from its last bytes: what `check` and index rebuilding trust. */
export async function readPackHeader(
  keys: RepositoryKeys,
  packId: string,
  size: number,
  getRange: (offset: number, length: number) => Promise<Buffer>,
): Promise<IndexEntry[]> {
  const what = `pack ${packId}`;
  if (size < TRAILER) {
    throw new IntegrityError(`${what} is ${size} bytes, too short for a pack`);
  }
  const trailer = await getRange(size - TRAILER, TRAILER);
  const headerLength = trailer.readUInt32LE(0);
  if (trailer.toString('latin1', 4) !== MAGIC || headerLength + TRAILER > size) {
    throw new IntegrityError(`${what} has no valid trailer (truncated or not a pack)`);
  }
  const header = await getRange(size - TRAILER - headerLength, headerLength);
  const entries = decodeIndex(
    unseal(keys.encryption, header, headerAad(packId), `${what} header`),
    `${what} header`,
  );
  const dataEnd = size - TRAILER - headerLength;
  if (entries.some((e) => e.pack !== packId || e.offset + e.length > dataEnd)) {
    throw new IntegrityError(`${what} header lists blobs outside the pack or of another pack`);
  }
  return entries;
}
