import { expect } from 'chai';
import { DirectoryIndex, type IndexEntry } from '../../../controller/ntfs/directory-index.js';
import { CorruptVolumeError } from '../../../controller/ntfs/errors.js';
import { Namespace } from '../../../controller/ntfs/file-name.js';
import { UpcaseTable } from '../../../controller/ntfs/upcase.js';
import { collect } from '../../support/ntfs-images.js';

const entry = (name: string | null, subnode: number | null = null, record = 100): IndexEntry => ({
  reference: { record, sequence: 1 },
  fileName:
    name === null
      ? null
      : {
          name,
          namespace: Namespace.win32,
          parent: { record: 5, sequence: 5 },
          dataSize: 0,
          fileAttributes: 0,
        },
  subnode,
});

/** ASCII upcasing is enough for these names. */
const upcase = UpcaseTable.fromBuffer(
  Buffer.from(Uint16Array.from({ length: 65536 }, (_, i) => (i >= 0x61 && i <= 0x7a ? i - 32 : i)).buffer),
);

describe('directory index B-tree', () => {
  const blocks = new Map<number, IndexEntry[]>([
    [0, [entry('apple'), entry('banana'), entry(null)]],
    [1, [entry('kiwi'), entry(null)]],
  ]);
  const index = new DirectoryIndex(
    [entry('cherry', 0, 7), entry(null, 1)],
    (vcn) => Promise.resolve(blocks.get(vcn) ?? []),
    'test',
  );

  it('walks entries in collation order, each subtree before its parent entry', async () => {
    const names = (await collect(index.entries())).map((e) => e.fileName.name);
    expect(names).to.deep.equal(['apple', 'banana', 'cherry', 'kiwi']);
  });

  it('finds a name case-insensitively by descending only the needed blocks', async () => {
    const read: number[] = [];
    const tracked = new DirectoryIndex(
      [entry('cherry', 0, 7), entry(null, 1)],
      (vcn) => {
        read.push(vcn);
        return Promise.resolve(blocks.get(vcn) ?? []);
      },
      'test',
    );
    expect((await tracked.find('KIWI', upcase)).map((e) => e.fileName?.name)).to.deep.equal(['kiwi']);
    expect((await tracked.find('Cherry', upcase)).map((e) => e.reference.record)).to.deep.equal([7]);
    expect(await tracked.find('date', upcase)).to.deep.equal([]);
    expect(read).to.deep.equal([1, 1]);
  });

  it('stops with an error when a block leads back to itself', async () => {
    const looping = new DirectoryIndex(
      [entry(null, 3)],
      () => Promise.resolve([entry('x', 3), entry(null)]),
      'directory "loop"',
    );
    const err = await collect(looping.entries()).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(CorruptVolumeError);
    expect((err as Error).message).to.equal('directory "loop": directory index loops back to block 3');
    const lookup = await looping.find('a', upcase).catch((e: unknown) => e);
    expect(lookup).to.be.instanceOf(CorruptVolumeError);
  });
});
