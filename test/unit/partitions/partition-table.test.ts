import { expect } from 'chai';
import { crc32 } from 'node:zlib';
import type { ByteSource } from '../../../controller/common/byte-source.js';
import { openVirtualDisk, type VirtualDisk } from '../../../controller/disk/index.js';
import { PartitionTableError, readPartitionTable } from '../../../controller/partitions/index.js';
import { bufferSource, patchedSource, sharedNtfsFixture } from '../../support/ntfs-images.js';

const BASIC_DATA = 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7';

/** An MBR sector with the given 16-byte slots. */
function mbrSector(slots: { type: number; lba: number; sectors: number }[]): Buffer {
  const sector = Buffer.alloc(512);
  slots.forEach((s, i) => {
    sector[446 + i * 16 + 4] = s.type;
    sector.writeUInt32LE(s.lba, 446 + i * 16 + 8);
    sector.writeUInt32LE(s.sectors, 446 + i * 16 + 12);
  });
  sector.writeUInt16LE(0xaa55, 510);
  return sector;
}

describe('partition tables', () => {
  let gpt: VirtualDisk;
  let mbr: VirtualDisk;
  let bare: VirtualDisk;

  before(async function () {
    this.timeout(120000);
    const fixture = await sharedNtfsFixture();
    [gpt, mbr, bare] = await Promise.all([
      openVirtualDisk(fixture.gpt),
      openVirtualDisk(fixture.mbr),
      openVirtualDisk(fixture.bare),
    ]);
  });
  after(() => Promise.all([gpt.close(), mbr.close(), bare.close()]));

  it('lists GPT partitions with type, size and name, numbered from 1', async () => {
    const table = await readPartitionTable(gpt);
    expect(table?.scheme).to.equal('gpt');
    expect(table?.warnings).to.deep.equal([]);
    expect(table?.partitions.map((p) => [p.number, p.start, p.typeName, p.name])).to.deep.equal([
      [1, 1048576, 'EFI system', 'EFI system'],
      [2, 2097152, 'Microsoft basic data', 'Basic data partition'],
    ]);
    expect(table?.partitions[1]?.type).to.equal(BASIC_DATA);
  });

  it('falls back to the backup GPT when the primary header fails its CRC, and says so', async () => {
    const damaged = patchedSource(gpt, [{ offset: 512 + 40, bytes: Buffer.from([0xff]) }]);
    const table = await readPartitionTable(damaged);
    expect(table?.partitions.map((p) => p.number)).to.deep.equal([1, 2]);
    expect(table?.warnings[0]).to.match(
      /primary GPT unusable \(header CRC32 mismatch\); using the backup copy/,
    );
  });

  it('falls back to the backup GPT when the primary entry array is damaged', async () => {
    const damaged = patchedSource(gpt, [{ offset: 1024 + 130, bytes: Buffer.from('garbage') }]);
    const table = await readPartitionTable(damaged);
    expect(table?.warnings[0]).to.match(/entry array CRC32 mismatch/);
    expect(table?.partitions[1]?.name).to.equal('Basic data partition');
  });

  it('refuses a GPT whose two copies are both damaged', async () => {
    const damaged = patchedSource(gpt, [
      { offset: 512 + 40, bytes: Buffer.from([0xff]) },
      { offset: gpt.size - 512 + 40, bytes: Buffer.from([0xff]) },
    ]);
    const err = await readPartitionTable(damaged).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(PartitionTableError);
    expect((err as Error).message).to.match(/primary header CRC32 mismatch; backup header CRC32 mismatch/);
  });

  it('refuses a GPT entry that reaches past the end of the disk', async () => {
    // Rewrite entry 2's last LBA and fix both CRCs, so only the bounds check can catch it.
    const head = await gpt.read(0, 34 * 512);
    head.writeBigUInt64LE(BigInt(gpt.size / 512 + 100), 1024 + 128 + 40);
    head.writeUInt32LE(crc32(head.subarray(1024, 1024 + 128 * 128)), 512 + 88);
    head.writeUInt32LE(0, 512 + 16);
    head.writeUInt32LE(crc32(head.subarray(512, 512 + 92)), 512 + 16);
    const err = await readPartitionTable(patchedSource(gpt, [{ offset: 0, bytes: head }])).catch(
      (e: unknown) => e,
    );
    expect((err as Error).message).to.match(/GPT entry 2 spans LBA .* outside the disk/);
  });

  it('lists a logical partition inside an MBR extended partition as number 5', async () => {
    const table = await readPartitionTable(mbr);
    expect(table?.scheme).to.equal('mbr');
    expect(table?.partitions.map((p) => [p.number, p.type, p.start])).to.deep.equal([
      [1, '0x0c', 1048576],
      [5, '0x07', 3145728],
    ]);
  });

  it('follows a chain of several logical partitions', async () => {
    const disk = Buffer.alloc(64 * 512);
    mbrSector([{ type: 0x0f, lba: 10, sectors: 50 }]).copy(disk, 0);
    mbrSector([
      { type: 0x07, lba: 2, sectors: 8 },
      { type: 0x05, lba: 20, sectors: 20 },
    ]).copy(disk, 10 * 512);
    mbrSector([{ type: 0x83, lba: 2, sectors: 10 }]).copy(disk, 30 * 512);
    const table = await readPartitionTable(bufferSource(disk));
    expect(table?.partitions.map((p) => [p.number, p.start / 512, p.size / 512, p.typeName])).to.deep.equal([
      [5, 12, 8, 'NTFS/exFAT/HPFS'],
      [6, 32, 10, 'Linux'],
    ]);
  });

  it('ends with an error when the extended partition chain loops', async () => {
    const disk = Buffer.alloc(64 * 512);
    mbrSector([{ type: 0x05, lba: 10, sectors: 50 }]).copy(disk, 0);
    mbrSector([
      { type: 0x07, lba: 2, sectors: 8 },
      { type: 0x05, lba: 0, sectors: 20 },
    ]).copy(disk, 10 * 512);
    const err = await readPartitionTable(bufferSource(disk)).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(PartitionTableError);
    expect((err as Error).message).to.match(/loops back to LBA 10/);
  });

  it('finds no table on a bare NTFS volume (its boot sector also ends in 55 AA)', async () => {
    expect(await readPartitionTable(bare)).to.equal(null);
  });

  it('reads a GPT on a 4 KiB-sector disk', async () => {
    const source: ByteSource = await sectorScaled(gpt);
    const table = await readPartitionTable(source);
    expect(table?.sectorSize).to.equal(4096);
    expect(table?.partitions[1]?.start).to.equal(2097152 * 8);
  });
});

/** The GPT image's table re-laid for 4096-byte sectors: same LBAs, eight times the byte offsets. */
async function sectorScaled(disk: ByteSource): Promise<ByteSource> {
  const zeros: ByteSource = {
    size: disk.size * 8,
    read: (_offset, length) => Promise.resolve(Buffer.alloc(length)),
  };
  return patchedSource(zeros, [
    { offset: 0, bytes: await disk.read(0, 512) },
    { offset: 4096, bytes: await disk.read(512, 512) },
    { offset: 2 * 4096, bytes: await disk.read(1024, 32 * 512) },
  ]);
}
