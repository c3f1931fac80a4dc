/**
 * How a chunk or metadata object becomes stored bytes: zstd-compressed when that saves space,
 * then sealed. The first plaintext byte names the compression, so incompressible data costs one byte.
 */
import { constants, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { releaseNow } from '../common/release.js';
import { chunkId, seal, sealToBuffer, unseal, type RepositoryKeys } from './crypto.js';
import { IntegrityError } from './errors.js';

const Codec = { none: 0, zstd: 1 } as const;

export interface EncodedChunk {
  id: Buffer;
  /** The sealed blob as parts, to be written without concatenation. */
  parts: Buffer[];
  size: number;
}

/** Samples a chunk is probed at, and the ratio above which a sample counts as incompressible. */
const PROBE_BYTES = 4096;
const PROBE_MIN_INPUT = 64 * 1024;
const INCOMPRESSIBLE = 0.97;

function zstd(data: Uint8Array, level: number): Buffer {
  // The pledged size lets zstd size its window and tables to the input (a 256 KiB chunk needs far
  // less than the level's default), and an output buffer as large as the input means one
  // allocation instead of a 16 KiB piece per step and a concatenation.
  return zstdCompressSync(data, {
    chunkSize: Math.max(data.length, 64),
    pledgedSrcSize: data.length,
    params: { [constants.ZSTD_c_compressionLevel]: level },
  });
}

/**
 * Whether samples from the start, middle and end of a large input all fail to shrink at the
 * fastest level: then the whole is almost surely media, ciphertext or already compressed, and
 * compressing it costs time for nothing (on the benchmark disk at level 1: 9% less compression
 * CPU in all, 0.3% more stored bytes).
 */
function looksIncompressible(data: Uint8Array): boolean {
  if (data.length < PROBE_MIN_INPUT) {
    return false;
  }
  return [0, (data.length - PROBE_BYTES) >> 1, data.length - PROBE_BYTES].every(
    (at) => zstd(data.subarray(at, at + PROBE_BYTES), 1).length >= PROBE_BYTES * INCOMPRESSIBLE,
  );
}

function compress(data: Uint8Array, level: number): { codec: number; body: Uint8Array } {
  if (level > 0 && !looksIncompressible(data)) {
    const packed = zstd(data, level);
    if (packed.length < data.length) {
      return { codec: Codec.zstd, body: packed };
    }
  }
  return { codec: Codec.none, body: data };
}

/** `sizeHint`: the expected plaintext size, so that zstd writes it into one buffer. */
function decompress(plain: Buffer, what: string, sizeHint?: number): Buffer {
  const body = plain.subarray(1);
  switch (plain[0]) {
    case Codec.none:
      return body;
    case Codec.zstd:
      try {
        // Room to spare: an output that fills the buffer exactly costs zlib another buffer and
        // pass to find that nothing follows (3x slower for 256 KiB chunks).
        return zstdDecompressSync(body, sizeHint ? { chunkSize: sizeHint + 4096 } : {});
      } catch {
        throw new IntegrityError(`${what} does not decompress`);
      } finally {
        releaseNow(plain);
      }
    default:
      throw new IntegrityError(`${what} uses unknown compression ${plain[0]}`);
  }
}

/** Seals a chunk under its keyed id (the id is the AAD, so a blob cannot pose as another chunk). */
export function encodeChunk(keys: RepositoryKeys, id: Buffer, data: Uint8Array, level: number): EncodedChunk {
  const { codec, body } = compress(data, level);
  const parts = seal(keys.encryption, [Buffer.of(codec), body], id);
  if (body !== data) {
    releaseNow(body);
  }
  return { id, parts, size: parts.reduce((n, p) => n + p.length, 0) };
}

/**
 * Opens a chunk blob and checks that its content hashes to `id`: the end-to-end verification.
 * `sizeHint` (the manifest's chunk size) saves copies when given.
 */
export function decodeChunk(keys: RepositoryKeys, id: Buffer, blob: Uint8Array, sizeHint?: number): Buffer {
  const what = `chunk ${id.toString('hex')}`;
  const data = decompress(unseal(keys.encryption, blob, id, what), what, sizeHint);
  if (!chunkId(keys.chunkId, data).equals(id)) {
    throw new IntegrityError(`${what} decrypts to content with a different id`);
  }
  return data;
}

/** Seals a metadata object (manifest, index, catalog) bound to its storage key. */
export function encodeObject(keys: RepositoryKeys, key: string, data: Uint8Array): Buffer {
  const { codec, body } = compress(data, 3);
  return sealToBuffer(keys.encryption, [Buffer.of(codec), body], Buffer.from(key));
}

export function decodeObject(keys: RepositoryKeys, key: string, sealed: Uint8Array): Buffer {
  return decompress(unseal(keys.encryption, sealed, Buffer.from(key), `object ${key}`), `object ${key}`);
}
