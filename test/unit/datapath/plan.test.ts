import { expect } from 'chai';
import { parseChangedRanges } from '../../../controller/datapath/changed-ranges.js';
import { chunkBytesCovered, planChunks, readRuns } from '../../../controller/datapath/plan.js';
import { mergeRanges } from '../../../controller/disk/ranges.js';

const K = 1024;

describe('deciding which chunks a backup reads', () => {
  it('reads only chunks that overlap allocated ranges; the rest are zeros without a read', () => {
    const plans = planChunks({
      virtualSize: 10 * K,
      chunkSize: 2 * K,
      allocated: [{ offset: 3 * K, length: 2 * K }],
    });
    expect(plans.map((p) => p.kind)).to.deep.equal(['zero', 'read', 'read', 'zero', 'zero']);
  });

  it('with a changed-range list, reuses untouched chunks from the previous recovery point unread', () => {
    const previous = ['a', 'b', null, 'd'];
    const plans = planChunks({
      virtualSize: 8 * K,
      chunkSize: 2 * K,
      allocated: [{ offset: 0, length: 8 * K }],
      previous,
      changed: [{ offset: 2 * K + 100, length: 10 }],
    });
    expect(plans).to.deep.equal([
      { kind: 'reuse', id: 'a' },
      { kind: 'read', previous: 'b' },
      { kind: 'reuse', id: null },
      { kind: 'reuse', id: 'd' },
    ]);
  });

  it('refuses a changed-range list without a previous recovery point', () => {
    expect(() => planChunks({ virtualSize: K, chunkSize: K, allocated: [], changed: [] })).to.throw(
      /previous recovery point/,
    );
  });

  it('groups consecutive chunks to read into runs of bounded length, with a short last chunk', () => {
    const plans = planChunks({
      virtualSize: 9 * K,
      chunkSize: 2 * K,
      allocated: [
        { offset: 0, length: 3 * K },
        { offset: 6 * K, length: 3 * K },
      ],
    });
    expect(readRuns(plans, 2 * K, 9 * K, 2)).to.deep.equal([
      { first: 0, count: 2, offset: 0, length: 4 * K },
      { first: 3, count: 2, offset: 6 * K, length: 3 * K },
    ]);
  });

  it('sizes a changed-range backup by the chunks its ranges touch, each counted once', () => {
    const ranges = mergeRanges([
      { offset: 100, length: 10 }, // chunk 0
      { offset: 1 * K + 1000, length: 100 }, // chunk 0 again
      { offset: 2 * K - 1, length: 2 }, // chunks 0 and 1
      { offset: 5 * K, length: 4 * K }, // chunks 2, 3 and 4
    ]);
    expect(chunkBytesCovered(ranges, 2 * K)).to.equal(5 * 2 * K);
    expect(chunkBytesCovered([], 2 * K)).to.equal(0);
  });
});

describe('changed-range lists from the hypervisor', () => {
  it('reads JSON and "offset length" lines alike, merging overlaps', () => {
    const json = parseChangedRanges('[{"offset":0,"length":10},{"offset":5,"length":10}]', 'rct.json', 100);
    const text = parseChangedRanges('# RCT\n0 10\n5 10\n', 'rct.txt', 100);
    expect(json).to.deep.equal([{ offset: 0, length: 15 }]);
    expect(text).to.deep.equal(json);
  });

  it('names the file and line of a malformed entry, and ranges past the disk', () => {
    expect(() => parseChangedRanges('0 10\nten 5\n', 'rct.txt', 100)).to.throw(
      /rct\.txt:2: expected "offset length"/,
    );
    expect(() => parseChangedRanges('90 20', 'rct.txt', 100)).to.throw(/outside the 100-byte disk/);
  });

  it('merges touching ranges and drops empty ones', () => {
    expect(
      mergeRanges([
        { offset: 10, length: 5 },
        { offset: 0, length: 10 },
        { offset: 30, length: 0 },
      ]),
    ).to.deep.equal([{ offset: 0, length: 15 }]);
  });
});
