import { CorruptVolumeError } from './errors.js';
import { applyFixups } from './fixups.js';
import { parseFileName, type FileName } from './file-name.js';
import { readReference, type FileReference } from './mft-record.js';
import type { UpcaseTable } from './upcase.js';

const EntryFlags = { hasSubnode: 1, last: 2 } as const;

export interface IndexEntry {
  reference: FileReference;
  /** Null only for the terminating entry of a node, which carries no key. */
  fileName: FileName | null;
  /** VCN of the child block holding the names that sort before this entry. */
  subnode: number | null;
}

/** Entries of one index node, between `start` and `end` of `buf` (offsets already resolved). */
function parseIndexEntries(buf: Buffer, start: number, end: number, where: string): IndexEntry[] {
  const entries: IndexEntry[] = [];
  let offset = start;
  for (;;) {
    if (offset + 16 > end) {
      throw new CorruptVolumeError(`${where}: index entries run past the node without a last entry`);
    }
    const length = buf.readUInt16LE(offset + 8);
    const keyLength = buf.readUInt16LE(offset + 10);
    const flags = buf.readUInt32LE(offset + 12);
    const hasSubnode = (flags & EntryFlags.hasSubnode) !== 0;
    if (length < 16 || offset + length > end || 16 + keyLength > length || (hasSubnode && length < 24)) {
      throw new CorruptVolumeError(`${where}: index entry at ${offset} has length ${length}`);
    }
    const last = (flags & EntryFlags.last) !== 0;
    entries.push({
      reference: readReference(buf, offset),
      fileName:
        last || keyLength === 0 ? null : parseFileName(buf.subarray(offset + 16, offset + 16 + keyLength)),
      subnode: hasSubnode ? Number(buf.readBigUInt64LE(offset + length - 8)) : null,
    });
    if (last) {
      return entries;
    }
    offset += length;
  }
}

/** The index node header shared by $INDEX_ROOT and INDX blocks: entry offsets are relative to it. */
function parseNode(buf: Buffer, headerOffset: number, where: string): IndexEntry[] {
  const entriesOffset = buf.readUInt32LE(headerOffset);
  const entriesEnd = buf.readUInt32LE(headerOffset + 4);
  if (entriesEnd > buf.length - headerOffset || entriesOffset >= entriesEnd) {
    throw new CorruptVolumeError(
      `${where}: index header (${entriesOffset}–${entriesEnd}) does not fit the node`,
    );
  }
  return parseIndexEntries(buf, headerOffset + entriesOffset, headerOffset + entriesEnd, where);
}

export interface IndexRoot {
  blockSize: number;
  entries: IndexEntry[];
}

export function parseIndexRoot(value: Buffer, where: string): IndexRoot {
  if (value.length < 32) {
    throw new CorruptVolumeError(`${where}: $INDEX_ROOT of ${value.length} bytes is too short`);
  }
  return { blockSize: value.readUInt32LE(8), entries: parseNode(value, 16, where) };
}

export function parseIndexBlock(raw: Buffer, vcn: number, where: string): IndexEntry[] {
  const block = Buffer.from(raw);
  if (block.toString('latin1', 0, 4) !== 'INDX') {
    throw new CorruptVolumeError(`${where}: index block at VCN ${vcn} has no INDX signature`);
  }
  applyFixups(block, `${where} index block ${vcn}`);
  const recorded = Number(block.readBigUInt64LE(16));
  if (recorded !== vcn) {
    throw new CorruptVolumeError(`${where}: index block read at VCN ${vcn} says it is VCN ${recorded}`);
  }
  return parseNode(block, 24, where);
}

export type BlockReader = (vcn: number) => Promise<IndexEntry[]>;

/**
 * A directory's $I30 B-tree. Every walk remembers the blocks it entered: a block seen twice means the
 * tree loops, which a damaged volume can do and which must end in an error rather than a hang.
 */
export class DirectoryIndex {
  constructor(
    private readonly root: IndexEntry[],
    private readonly readBlock: BlockReader,
    private readonly where: string,
  ) {}

  private async enter(vcn: number, visited: Set<number>): Promise<IndexEntry[]> {
    if (visited.has(vcn)) {
      throw new CorruptVolumeError(`${this.where}: directory index loops back to block ${vcn}`);
    }
    visited.add(vcn);
    return this.readBlock(vcn);
  }

  /** Every keyed entry, in collation order. */
  async *entries(): AsyncGenerator<IndexEntry & { fileName: FileName }> {
    const visited = new Set<number>();
    const stack: IndexEntry[][] = [this.root.slice().reverse()];
    // Iterative in-order walk: an entry's subtree comes before the entry itself.
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const entry = top?.pop();
      if (!top || !entry) {
        stack.pop();
        continue;
      }
      if (entry.subnode !== null) {
        top.push({ ...entry, subnode: null });
        stack.push((await this.enter(entry.subnode, visited)).slice().reverse());
        continue;
      }
      if (entry.fileName) {
        yield { ...entry, fileName: entry.fileName };
      }
    }
  }

  /** All entries whose name equals `name` under the volume's case rules (a Win32 and a DOS name may both match). */
  async find(name: string, upcase: UpcaseTable): Promise<IndexEntry[]> {
    const visited = new Set<number>();
    const found: IndexEntry[] = [];
    let node = this.root;
    for (;;) {
      let descend: number | null = null;
      for (const entry of node) {
        const order = entry.fileName ? upcase.compare(name, entry.fileName.name) : -1;
        if (order === 0) {
          found.push(entry);
        }
        if (order < 0) {
          descend = entry.subnode;
          break;
        }
      }
      if (found.length > 0 || descend === null) {
        return found;
      }
      node = await this.enter(descend, visited);
    }
  }
}
