/**
 * Where each chunk lives: chunk id → (pack, offset, length). Every backup adds one index object
 * for the packs it wrote; readers load them all. The index is derived data: every pack's own
 * header holds the same entries, so `check` can rebuild it.
 */
import { RepositoryError } from './errors.js';

export interface ChunkLocation {
  pack: string;
  offset: number;
  length: number;
}

export interface IndexEntry extends ChunkLocation {
  /** Chunk id, hex. */
  id: string;
}

const ID_BYTES = 32;
const PACK_ID_BYTES = 16;
const ENTRY_BYTES = ID_BYTES + 8;

export class ChunkIndex {
  private readonly locations = new Map<string, ChunkLocation>();
  /** Index objects that could not be read while loading, with why: their chunks are not listed. */
  readonly unreadable: { key: string; error: string }[] = [];

  get size(): number {
    return this.locations.size;
  }

  get(id: string): ChunkLocation | undefined {
    return this.locations.get(id);
  }

  has(id: string): boolean {
    return this.locations.has(id);
  }

  /** The first location seen wins, unless `prefer` says the new one is better (e.g. not condemned). */
  add(entry: IndexEntry, prefer?: (current: ChunkLocation, candidate: ChunkLocation) => boolean): void {
    const current = this.locations.get(entry.id);
    if (!current || prefer?.(current, entry)) {
      this.locations.set(entry.id, { pack: entry.pack, offset: entry.offset, length: entry.length });
    }
  }

  entries(): IterableIterator<[string, ChunkLocation]> {
    return this.locations.entries();
  }

  /** Why a chunk a manifest uses is not listed, for the error a reader raises. */
  whyMissing(id: string, manifestId: string): string {
    const cause =
      this.unreadable.length > 0
        ? `index objects that could not be read: ${this.unreadable.map((u) => u.key).join(', ')}; run 'repo check'`
        : 'missing pack?';
    return `chunk ${id} of manifest ${manifestId} is not in the index (${cause})`;
  }
}

/** Binary layout: u32 pack count; per pack: 16-byte id, u32 entry count, entries (32-byte chunk id, u32 offset, u32 length). */
export function encodeIndex(entries: readonly IndexEntry[]): Buffer {
  const byPack = Map.groupBy(entries, (e) => e.pack);
  const buf = Buffer.alloc(4 + byPack.size * (PACK_ID_BYTES + 4) + entries.length * ENTRY_BYTES);
  let at = buf.writeUInt32LE(byPack.size, 0);
  for (const [pack, list] of byPack) {
    at += Buffer.from(pack, 'hex').copy(buf, at);
    at = buf.writeUInt32LE(list.length, at);
    for (const e of list) {
      at += Buffer.from(e.id, 'hex').copy(buf, at);
      at = buf.writeUInt32LE(e.offset, at);
      at = buf.writeUInt32LE(e.length, at);
    }
  }
  return buf;
}

export function decodeIndex(buf: Buffer, what: string): IndexEntry[] {
  const fail = (): never => {
    throw new RepositoryError(`${what} is malformed`);
  };
  const entries: IndexEntry[] = [];
  if (buf.length < 4) {
    fail();
  }
  const packs = buf.readUInt32LE(0);
  let at = 4;
  for (let p = 0; p < packs; p++) {
    if (at + PACK_ID_BYTES + 4 > buf.length) {
      fail();
    }
    const pack = buf.toString('hex', at, at + PACK_ID_BYTES);
    const count = buf.readUInt32LE(at + PACK_ID_BYTES);
    at += PACK_ID_BYTES + 4;
    if (at + count * ENTRY_BYTES > buf.length) {
      fail();
    }
    for (let i = 0; i < count; i++) {
      entries.push({
        id: buf.toString('hex', at, at + ID_BYTES),
        pack,
        offset: buf.readUInt32LE(at + ID_BYTES),
        length: buf.readUInt32LE(at + ID_BYTES + 4),
      });
      at += ENTRY_BYTES;
    }
  }
  return entries;
}
