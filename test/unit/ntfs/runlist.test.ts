import { expect } from 'chai';
import { CorruptVolumeError } from '../../../controller/ntfs/errors.js';
import { decodeRunlist } from '../../../controller/ntfs/runlist.js';

describe('runlists', () => {
  it('decodes runs with signed LCN deltas and sparse holes', () => {
    // 0x10 clusters at 0x2200; a hole of 0x7fe; 2 clusters at 0x2200 - 0x100.
    const bytes = Buffer.from([0x21, 0x10, 0x00, 0x22, 0x02, 0xfe, 0x07, 0x21, 0x02, 0x00, 0xff, 0x00]);
    expect(decodeRunlist(bytes, 0, 100000)).to.deep.equal([
      { vcn: 0, length: 0x10, lcn: 0x2200 },
      { vcn: 0x10, length: 0x7fe, lcn: null },
      { vcn: 0x80e, length: 2, lcn: 0x2100 },
    ]);
  });

  it('refuses a run that points outside the volume', () => {
    expect(() => decodeRunlist(Buffer.from([0x21, 0x10, 0x00, 0x40, 0x00]), 0, 0x3000)).to.throw(
      CorruptVolumeError,
      /outside the volume/,
    );
  });

  it('refuses a header whose fields run past the list', () => {
    expect(() => decodeRunlist(Buffer.from([0x44, 0x01]), 0, 100)).to.throw(
      CorruptVolumeError,
      /malformed run header/,
    );
  });
});
