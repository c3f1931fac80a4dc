import { expect } from 'chai';
import { CorruptVolumeError } from '../../../controller/ntfs/errors.js';
import { decompressLznt1 } from '../../../controller/ntfs/lznt1.js';

describe('LZNT1 decompression', () => {
  it('expands literals followed by a back-reference that overlaps its own output', () => {
    // Flags 0b1000: three literals, then displacement 3 / length 9 (12-bit length at chunk position 3).
    const body = Buffer.from([0x08, 0x61, 0x62, 0x63, 0x06, 0x20]);
    const chunk = Buffer.concat([Buffer.from([body.length - 1, 0xb0]), body]);
    expect(decompressLznt1(chunk, 16).toString('latin1')).to.equal('abcabcabcabc\0\0\0\0');
  });

  it('copies a chunk stored uncompressed and starts the next chunk 4 KiB further on', () => {
    const raw = Buffer.alloc(4096, 0x41);
    const second = Buffer.from([0x00, 0x5a]);
    const input = Buffer.concat([
      Buffer.from([0xff, 0x3f]),
      raw,
      Buffer.from([second.length - 1, 0xb0]),
      second,
    ]);
    const out = decompressLznt1(input, 8192);
    expect(out.subarray(0, 4096).equals(raw)).to.be.true;
    expect(out[4096]).to.equal(0x5a);
  });

  it('rejects a back-reference that points before the start of the chunk', () => {
    const body = Buffer.from([0x01, 0x00, 0x20]);
    const chunk = Buffer.concat([Buffer.from([body.length - 1, 0xb0]), body]);
    expect(() => decompressLznt1(chunk, 4096)).to.throw(CorruptVolumeError, /before the start of the chunk/);
  });

  it('rejects a chunk that claims more bytes than the unit holds', () => {
    expect(() => decompressLznt1(Buffer.from([0xff, 0xbf, 0x00]), 4096)).to.throw(
      CorruptVolumeError,
      /runs past/,
    );
  });
});
