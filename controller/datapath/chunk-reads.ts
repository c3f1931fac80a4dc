/**
 * Plans reads of many chunks from packs: grouped by pack and merged into large sequential range
 * reads, which is what makes restores fast on both filesystems and object stores.
 */
import type { ChunkIndex, ChunkLocation } from '../repository/chunk-index.js';
import { IntegrityError } from '../repository/errors.js';

export interface SpanChunk {
  id: string;
  location: ChunkLocation;
  /** Chunk numbers in the manifest that hold this chunk (duplicates are read once). */
  positions: number[];
}

export interface Span {
  pack: string;
  offset: number;
  length: number;
  chunks: SpanChunk[];
}

/** Large enough for sequential reads, small enough that four in flight stay well under 100 MiB. */
const MAX_SPAN = 8 * 1024 * 1024;
/** Reading over a gap this small costs less than another request. */
const MAX_GAP = 1024 * 1024;

export function planSpans(chunks: readonly (string | null)[], index: ChunkIndex, manifestId: string): Span[] {
  const byId = new Map<string, SpanChunk>();
  chunks.forEach((id, position) => {
    if (id === null) {
      return;
    }
    const known = byId.get(id);
    if (known) {
      known.positions.push(position);
      return;
    }
    const location = index.get(id);
    if (!location) {
      throw new IntegrityError(index.whyMissing(id, manifestId));
    }
    byId.set(id, { id, location, positions: [position] });
  });
  const byPack = Map.groupBy(byId.values(), (c) => c.location.pack);
  const spans: Span[] = [];
  for (const [pack, list] of byPack) {
    list.sort((a, b) => a.location.offset - b.location.offset);
    let span: Span | undefined;
    for (const c of list) {
      const end = c.location.offset + c.location.length;
      if (
        span &&
        c.location.offset - (span.offset + span.length) <= MAX_GAP &&
        end - span.offset <= MAX_SPAN
      ) {
        span.length = end - span.offset;
        span.chunks.push(c);
      } else {
        span = { pack, offset: c.location.offset, length: c.location.length, chunks: [c] };
        spans.push(span);
      }
    }
  }
  return spans;
}
