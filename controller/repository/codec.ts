/**
 * How a chunk or metadata object becomes stored bytes: zstd-compressed when that saves space,
 * then sealed. The first plaintext byte names the compression, so incompressible data costs one byte.
 */
import { constants, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { chunkId, seal, sealToBuffer, unseal, type RepositoryKeys } from './crypto.js';
import { IntegrityError } from './errors.js';

const Codec = { none: 0, zstd: 1 } as const;

export interface EncodedChunk {
  id: Buffer;
  /** The sealed blob as parts, to be written without concatenation. */
  parts: Buffer[];
  size: number;
}

function compress(data: Uint8Array, level: number): { codec: number; body: Uint8Array } {
  if (level > 0) {
    const packed = zstdCompressSync(data, { params: { [constants.ZSTD_c_compressionLevel]: level } });
    if (packed.length < data.length) {
      return { codec: Codec.zstd, body: packed };
    }
  }
  return { codec: Codec.none, body: data };
}

function decompress(plain: Buffer, what: string): Buffer {
  const body = plain.subarray(1);
  switch (plain[0]) {
    case Codec.none:
      return body;
    case Codec.zstd:
      try {
        return zstdDecompressSync(body);
      } catch {
        throw new IntegrityError(`${what} does not decompress`);
      }
    default:
      throw new IntegrityError(`${what} uses unknown compression ${plain[0]}`);
  }
}

/** Seals a chunk under its keyed id (the id is the AAD, so a blob cannot pose as another chunk). */
export function encodeChunk(keys: RepositoryKeys, id: Buffer, data: Uint8Array, level: number): EncodedChunk {
  const { codec, body } = compress(data, level);
  const parts = seal(keys.encryption, [Buffer.of(codec), body], id);
  return { id, parts, size: parts.reduce((n, p) => n + p.length, 0) };
}

/** Opens a chunk blob and checks that its content hashes to `id`: the end-to-end verification. */
export function decodeChunk(keys: RepositoryKeys, id: Buffer, blob: Uint8Array): Buffer {
  const what = `chunk ${id.toString('hex')}`;
  const data = decompress(unseal(keys.encryption, blob, id, what), what);
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
