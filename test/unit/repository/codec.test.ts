import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { decodeChunk, encodeChunk } from '../../../controller/repository/codec.js';
import { SEAL_OVERHEAD, chunkId, deriveKeys } from '../../../controller/repository/crypto.js';
import { IntegrityError } from '../../../controller/repository/errors.js';

const KiB = 1024;
const keys = deriveKeys(randomBytes(32));

/** Log-like text: what zstd shrinks several times over. */
function text(bytes: number): Buffer {
  const lines: string[] = [];
  for (let i = 0, length = 0; length < bytes; i++) {
    const line = `2026-11-22T05:${String(i % 60).padStart(2, '0')} service ${i % 7} handled request ${i}\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

function roundTrip(data: Buffer, level: number): { stored: number } {
  const id = chunkId(keys.chunkId, data);
  const { parts, size } = encodeChunk(keys, id, data, level);
  const blob = Buffer.concat(parts);
  expect(blob.length).to.equal(size);
  expect(decodeChunk(keys, id, blob, data.length).equals(data)).to.be.true;
  // Without the size hint too: older callers and metadata readers do not give one.
  expect(decodeChunk(keys, id, blob).equals(data)).to.be.true;
  return { stored: size - SEAL_OVERHEAD - 1 };
}

describe('chunk encoding', () => {
  it('stores incompressible chunks as they are and compressible ones with zstd, both reading back verified', () => {
    const random = randomBytes(256 * KiB);
    expect(roundTrip(random, 1).stored).to.equal(random.length);
    expect(roundTrip(text(256 * KiB), 1).stored).to.be.below(64 * KiB);
  });

  it('compresses a chunk that is random only in part: one compressible sample is enough', () => {
    // Random at the start and end, text in the middle: two of the three probes fail to shrink.
    const mixed = Buffer.concat([randomBytes(96 * KiB), text(64 * KiB), randomBytes(96 * KiB)]);
    expect(roundTrip(mixed, 1).stored).to.be.below(mixed.length - 48 * KiB);
  });

  it('reads chunks written at any zstd level, as repositories made before level 1 became the default were', () => {
    const data = text(256 * KiB);
    for (const level of [0, 1, 3, 9]) {
      const { stored } = roundTrip(data, level);
      expect(stored, `level ${level}`).to.be.at.most(level === 0 ? data.length : 64 * KiB);
    }
  });

  it('refuses a blob sealed under another chunk id, also when given a size hint', () => {
    const data = text(64 * KiB);
    const blob = Buffer.concat(encodeChunk(keys, chunkId(keys.chunkId, data), data, 1).parts);
    const other = chunkId(keys.chunkId, Buffer.from('another chunk'));
    expect(() => decodeChunk(keys, other, blob, data.length)).to.throw(
      IntegrityError,
      /failed authentication/,
    );
  });
});
