import { CorruptVolumeError } from './errors.js';

const CHUNK = 4096;

/**
 * Decompresses LZNT1 data (one NTFS compression unit) into a buffer of `outputSize` bytes.
 * The input is a sequence of chunks, each with a 2-byte header (bit 15 = compressed, bits 0–11 =
 * body length − 1) that expands to at most 4 KiB. A zero header ends the data early; whatever is
 * not produced stays zero, which is what NTFS returns for that part of the unit.
 */
export function decompressLznt1(input: Buffer, outputSize: number): Buffer {
  const out = Buffer.alloc(outputSize);
  let inPos = 0;
  let chunkStart = 0;
  while (inPos + 2 <= input.length && chunkStart < outputSize) {
    const header = input.readUInt16LE(inPos);
    if (header === 0) {
      break;
    }
    const bodyLength = (header & 0x0fff) + 1;
    const bodyEnd = inPos + 2 + bodyLength;
    if (bodyEnd > input.length) {
      throw new CorruptVolumeError(`LZNT1: chunk of ${bodyLength} bytes runs past the compressed data`);
    }
    const chunkEnd = Math.min(chunkStart + CHUNK, outputSize);
    if ((header & 0x8000) === 0) {
      input.copy(out, chunkStart, inPos + 2, Math.min(bodyEnd, inPos + 2 + (chunkEnd - chunkStart)));
    } else {
      decompressChunk(input, inPos + 2, bodyEnd, out, chunkStart, chunkEnd);
    }
    inPos = bodyEnd;
    chunkStart += CHUNK;
  }
  return out;
}

function decompressChunk(
  input: Buffer,
  start: number,
  end: number,
  out: Buffer,
  outStart: number,
  outEnd: number,
): void {
  let inPos = start;
  let outPos = outStart;
  while (inPos < end && outPos < outEnd) {
    const flags = input[inPos++] ?? 0;
    for (let bit = 0; bit < 8 && inPos < end && outPos < outEnd; bit++) {
      if ((flags & (1 << bit)) === 0) {
        out[outPos++] = input[inPos++] ?? 0;
        continue;
      }
      if (inPos + 2 > end) {
        throw new CorruptVolumeError('LZNT1: back-reference cut off at the end of a chunk');
      }
      const token = input.readUInt16LE(inPos);
      inPos += 2;
      // The further into the chunk, the more bits the displacement needs and the fewer remain for length.
      let offsetBits = 4;
      for (let p = outPos - outStart - 1; p >= 0x10; p >>= 1) {
        offsetBits++;
      }
      const lengthBits = 16 - offsetBits;
      const displacement = (token >> lengthBits) + 1;
      const length = (token & ((1 << lengthBits) - 1)) + 3;
      if (displacement > outPos - outStart) {
        throw new CorruptVolumeError('LZNT1: back-reference before the start of the chunk');
      }
      for (let i = 0; i < length && outPos < outEnd; i++, outPos++) {
        out[outPos] = out[outPos - displacement] ?? 0;
      }
    }
  }
}
