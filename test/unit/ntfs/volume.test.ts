import { expect } from 'chai';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sliceSource, type ByteSource } from '../../../controller/common/byte-source.js';
import { openVirtualDisk, type VirtualDisk } from '../../../controller/disk/index.js';
import { AttributeType, type NonResidentAttribute } from '../../../controller/ntfs/mft-record.js';
import { CorruptVolumeError, FileNotFoundError, UnsupportedError } from '../../../controller/ntfs/errors.js';
import { FileAttribute } from '../../../controller/ntfs/file-name.js';
import { NtfsVolume } from '../../../controller/ntfs/volume.js';
import {
  ADS,
  collect,
  HARD_LINKS,
  LONG_NAME,
  MANY_FILES,
  output,
  patchedSource,
  sharedNtfsFixture,
  type NtfsFixture,
} from '../../support/ntfs-images.js';

async function readAll(volume: NtfsVolume, path: string, stream = ''): Promise<Buffer> {
  const data = volume.openStream(await volume.resolve(path), stream);
  return data.read(0, data.size);
}

async function names(volume: NtfsVolume, path: string): Promise<string[]> {
  return (await collect(volume.listDirectory(await volume.resolve(path)))).map((e) => e.name);
}

function dataAttribute(
  volume: NtfsVolume,
  file: Awaited<ReturnType<NtfsVolume['resolve']>>,
): NonResidentAttribute {
  const attr = file.attributes.find((a) => a.type === AttributeType.data && a.name === '');
  if (!attr || attr.resident) {
    throw new Error('expected a non-resident $DATA');
  }
  return attr;
}

/** Byte offset, within the volume, of an MFT record (the test volumes' MFT starts contiguous). */
function recordOffset(volume: NtfsVolume, record: number): number {
  return volume.geometry.mftLcn * volume.geometry.clusterSize + record * volume.geometry.mftRecordSize;
}

describe('NTFS volume', () => {
  let fixture: NtfsFixture;
  let disk: VirtualDisk;
  let source: ByteSource;
  let volume: NtfsVolume;

  before(async function () {
    this.timeout(120000);
    fixture = await sharedNtfsFixture();
    disk = await openVirtualDisk(fixture.bare);
    source = disk;
    volume = await NtfsVolume.open(source);
  });
  after(() => disk.close());

  it('reads the geometry from the boot sector', () => {
    expect(volume.geometry).to.include({
      bytesPerSector: 512,
      clusterSize: 4096,
      mftRecordSize: 1024,
      indexBlockSize: 4096,
    });
  });

  it('lists the root like ntfsls does, metadata files hidden', async () => {
    const expected = (await output('ntfsls', ['-p', '/', fixture.bare]))
      .split('\n')
      .filter((n) => n !== '' && n !== '.');
    expect((await names(volume, '/')).sort()).to.deep.equal(expected.sort());
  });

  it(`lists a directory of ${MANY_FILES.toLocaleString('en')} files through a multi-block $I30 index, in name order`, async () => {
    const many = await volume.resolve('/many');
    expect(many.attributes.some((a) => a.type === AttributeType.indexAllocation)).to.be.true;
    const listed = await names(volume, '/many');
    // ntfsls walks index blocks in storage order; the B-tree walk yields collation (name) order.
    const expected = (await output('ntfsls', ['-p', '/many', fixture.bare]))
      .split('\n')
      .filter((n) => n !== '' && n !== '.');
    expect(listed).to.have.length(MANY_FILES);
    expect(listed).to.deep.equal(expected.sort());
  });

  it('finds a file in a large directory by name, case-insensitively', async () => {
    const data = await readAll(volume, '/MANY/FILE-02999.TXT');
    expect(data.toString()).to.equal('small file 2999\n');
  });

  it('resolves a path 24 directories deep', async () => {
    const path = `/${Array.from({ length: 24 }, (_, i) => `level-${i}`).join('/')}/bottom.txt`;
    expect((await readAll(volume, path)).toString()).to.equal('the bottom of a deep tree\n');
  });

  it('shows Unicode and 240-character Win32 names, never their DOS 8.3 aliases', async () => {
    const listed = await names(volume, '/unicode');
    expect(listed.sort()).to.deep.equal(['Ünïcødé 名前.txt', '🚀 launch – ελληνικά.md', LONG_NAME].sort());
    const file = await volume.resolve(`/unicode/${LONG_NAME}`);
    expect(file.names.map((n) => n.name)).to.deep.equal([LONG_NAME]);
  });

  it('reads a large file byte for byte', async () => {
    expect((await readAll(volume, '/big.bin')).equals(await readFile(join(fixture.source, 'big.bin')))).to.be
      .true;
  });

  it('reads files written as many interleaved runs', async () => {
    for (const name of ['frag-a.bin', 'frag-b.bin']) {
      const file = await volume.resolve(`/${name}`);
      expect(dataAttribute(volume, file).runs.length).to.be.greaterThan(10);
      expect((await readAll(volume, `/${name}`)).equals(await readFile(join(fixture.source, name)))).to.be
        .true;
    }
  });

  it('reads a sparse file: holes as zeros, data where it was written', async () => {
    const file = await volume.resolve('/sparse.bin');
    expect(dataAttribute(volume, file).runs.some((r) => r.lcn === null)).to.be.true;
    expect(file.info.fileAttributes & FileAttribute.sparse).to.not.equal(0);
    expect((await readAll(volume, '/sparse.bin')).equals(await readFile(join(fixture.source, 'sparse.bin'))))
      .to.be.true;
  });

  it('reads a zero-length file', async () => {
    expect(await readAll(volume, '/empty.txt')).to.have.length(0);
  });

  it('gathers a file whose attributes spill into extension records through $ATTRIBUTE_LIST', async () => {
    const file = await volume.resolve('/links/original.dat');
    expect(file.names).to.have.length(HARD_LINKS + 1);
    expect(
      (await readAll(volume, '/links/original.dat')).equals(
        await readFile(join(fixture.source, 'links/original.dat')),
      ),
    ).to.be.true;
    const viaLink = await volume.resolve(`/links/${'hard link '.repeat(24)}2.dat`);
    expect(viaLink.reference).to.deep.equal(file.reference);
  });

  it('lists and reads an alternate data stream', async () => {
    const file = await volume.resolve(ADS.path);
    expect(volume.streams(file)).to.deep.equal([
      { name: '', size: 12 },
      { name: ADS.name, size: ADS.data.length },
    ]);
    expect((await readAll(volume, ADS.path, ADS.name)).equals(ADS.data)).to.be.true;
  });

  it('reports the modification time the source file had', async () => {
    const file = await volume.resolve('/big.bin');
    const { mtimeMs } = await stat(join(fixture.source, 'big.bin'));
    expect(Math.abs(file.info.modified.getTime() - mtimeMs)).to.be.lessThan(1);
  });

  it('reads LZNT1-compressed files', async function () {
    if (!fixture.compressedSource) {
      this.skip();
    }
    const gpt = await openVirtualDisk(fixture.gpt);
    try {
      const compressed = await NtfsVolume.open(sliceSource(gpt, 2097152, gpt.size - 2097152 - 33 * 512));
      for (const name of ['text.txt', 'random.bin', 'mixed.bin']) {
        const file = await compressed.resolve(`/compressed/${name}`);
        expect(file.info.fileAttributes & FileAttribute.compressed, name).to.not.equal(0);
        const data = await readAll(compressed, `/compressed/${name}`);
        expect(data.equals(await readFile(join(fixture.compressedSource, name))), name).to.be.true;
      }
    } finally {
      await gpt.close();
    }
  });

  it('describes symbolic links without following them', async () => {
    const toFile = await volume.resolve('/symlinks/to-file');
    expect(toFile.reparsePoint?.target).to.equal('..\\links\\original.dat');
    expect(() => volume.openStream(toFile)).to.throw(
      UnsupportedError,
      /is a symbolic link to "..\\links\\original.dat"/,
    );
    const toDirectory = await volume.resolve('/symlinks/to-directory');
    expect(toDirectory.isDirectory).to.be.true;
    expect(toDirectory.reparsePoint?.target).to.equal('..\\unicode');
  });

  it('names a missing path', async () => {
    const err = await volume.resolve('/many/nope.txt').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(FileNotFoundError);
    expect((err as Error).message).to.equal('/many/nope.txt: no such file or directory');
  });

  it('refuses EFS-encrypted files as unsupported', async () => {
    const file = await volume.resolve('/big.bin');
    const encrypted = {
      ...file,
      info: { ...file.info, fileAttributes: file.info.fileAttributes | FileAttribute.encrypted },
    };
    expect(() => volume.openStream(encrypted)).to.throw(UnsupportedError, /EFS-encrypted/);
  });

  describe('on damaged volumes', () => {
    it('reports a torn MFT record (fixup mismatch) instead of reading it', async () => {
      const file = await volume.resolve('/big.bin');
      const offset = recordOffset(volume, file.reference.record) + 510;
      const damaged = await NtfsVolume.open(
        patchedSource(source, [{ offset, bytes: Buffer.from([0x12, 0x34]) }]),
      );
      const err = await damaged.resolve('/big.bin').catch((e: unknown) => e);
      expect(err).to.be.instanceOf(CorruptVolumeError);
      expect((err as Error).message).to.match(
        new RegExp(`MFT record ${file.reference.record}: fixup mismatch in sector 0`),
      );
    });

    it('notices when the MFT runlist leads to the wrong record', async () => {
      const file = await volume.resolve('/big.bin');
      const number = Buffer.alloc(4);
      number.writeUInt32LE(file.reference.record + 1);
      const offset = recordOffset(volume, file.reference.record) + 44;
      const damaged = await NtfsVolume.open(patchedSource(source, [{ offset, bytes: number }]));
      const err = await damaged.resolve('/big.bin').catch((e: unknown) => e);
      expect(err).to.be.instanceOf(CorruptVolumeError);
      expect((err as Error).message).to.match(
        new RegExp(`found record ${file.reference.record + 1} in its place`),
      );
    });

    it('refuses a runlist that points outside the volume', async () => {
      const file = await volume.resolve('/big.bin');
      const record = await source.read(recordOffset(volume, file.reference.record), 1024);
      // Walk the raw attributes to the $DATA runlist and make its first LCN enormous.
      let offset = record.readUInt16LE(20);
      while (record.readUInt32LE(offset) !== AttributeType.data) {
        offset += record.readUInt32LE(offset + 4);
      }
      const runlist = offset + record.readUInt16LE(offset + 32);
      const header = record[runlist] ?? 0;
      const lcnAt = runlist + 1 + (header & 0x0f) + (header >> 4) - 1;
      // Setting the top bit of the first LCN makes it negative: before the start of the volume.
      const damaged = await NtfsVolume.open(
        patchedSource(source, [
          { offset: recordOffset(volume, file.reference.record) + lcnAt, bytes: Buffer.from([0x80]) },
        ]),
      );
      const err = await damaged.resolve('/big.bin').catch((e: unknown) => e);
      expect(err).to.be.instanceOf(CorruptVolumeError);
      expect((err as Error).message).to.match(/lie outside the volume/);
    });

    it('ends a directory walk whose index loops with an error, not a hang', async () => {
      const many = await volume.resolve('/many');
      const allocation = many.attributes.find((a) => a.type === AttributeType.indexAllocation);
      if (!allocation || allocation.resident) {
        throw new Error('expected a non-resident $INDEX_ALLOCATION');
      }
      const root = many.attributes.find((a) => a.type === AttributeType.indexRoot);
      if (!root?.resident) {
        throw new Error('expected a resident $INDEX_ROOT');
      }
      // The root's last entry leads to the top index block; make a sub-node pointer in that block lead back to it.
      const top = Number(root.value.readBigUInt64LE(16 + root.value.readUInt32LE(20) - 8));
      const cs = volume.geometry.clusterSize;
      const run = allocation.runs.find((r) => r.vcn <= top && top < r.vcn + r.length);
      const blockOffset = ((run?.lcn ?? 0) + top - (run?.vcn ?? 0)) * cs;
      const block = await source.read(blockOffset, volume.geometry.indexBlockSize);
      const end = 24 + block.readUInt32LE(28);
      let subnodeAt = -1;
      for (
        let entry = 24 + block.readUInt32LE(24);
        subnodeAt < 0 && entry < end;
        entry += block.readUInt16LE(entry + 8)
      ) {
        const at = entry + block.readUInt16LE(entry + 8) - 8;
        if ((block.readUInt32LE(entry + 12) & 1) !== 0 && at % 512 < 504) {
          subnodeAt = at;
        }
      }
      expect(subnodeAt, 'a sub-node pointer in the top block').to.be.greaterThan(0);
      const self = Buffer.alloc(8);
      self.writeBigUInt64LE(BigInt(top));
      const damaged = await NtfsVolume.open(
        patchedSource(source, [{ offset: blockOffset + subnodeAt, bytes: self }]),
      );
      const err = await names(damaged, '/many').catch((e: unknown) => e);
      expect(err).to.be.instanceOf(CorruptVolumeError);
      expect((err as Error).message).to.match(new RegExp(`directory index loops back to block ${top}`));
    });

    it('refuses a volume whose boot sector is not NTFS', async () => {
      const err = await NtfsVolume.open(
        patchedSource(source, [{ offset: 3, bytes: Buffer.from('XXXX') }]),
      ).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(CorruptVolumeError);
    });
  });
});
