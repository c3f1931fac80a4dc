import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import { open, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { DiskFormatError, openVirtualDisk } from '../../../controller/disk/index.js';
import { VhdxDisk } from '../../../controller/disk/vhdx.js';
import {
  MiB,
  convertImage,
  makeLogEntry,
  makeRawImage,
  tempDir,
  writeVhdxFixture,
  type TempDir,
} from '../../support/disk-images.js';

async function expectFormatError(path: string, pattern: RegExp): Promise<void> {
  const result = await openVirtualDisk(path).then(
    async (d) => {
      await d.close();
      return undefined;
    },
    (err: unknown) => err,
  );
  expect(result, `opening ${path} should fail`).to.be.instanceOf(DiskFormatError);
  expect((result as Error).message).to.match(pattern);
}

describe('VHDX files qemu cannot make, built from the specification', function () {
  // Real qemu images and child processes: generous for CI's 2 shared cores.
  this.timeout(120_000);
  let dir: TempDir;
  before(async () => {
    dir = await tempDir();
  });
  after(() => dir.remove());

  it('reads a VHDX with 4 KiB logical sectors', async () => {
    const blockSize = 2 * MiB;
    const data = randomBytes(blockSize);
    const path = dir.file('4k.vhdx');
    await writeVhdxFixture(
      path,
      { virtualSize: 8 * MiB, blockSize, logicalSectorSize: 4096, physicalSectorSize: 4096 },
      [{ state: 'notPresent' }, { state: 'full', data }, { state: 'zero' }, { state: 'notPresent' }],
    );
    const disk = await openVirtualDisk(path);
    try {
      expect(disk.logicalSectorSize).to.equal(4096);
      expect(disk.physicalSectorSize).to.equal(4096);
      expect((await disk.read(blockSize, blockSize)).equals(data)).to.be.true;
      expect((await disk.read(0, blockSize)).every((b) => b === 0)).to.be.true;
      expect(disk.allocatedRanges()).to.deep.equal([{ offset: blockSize, length: blockSize }]);
    } finally {
      await disk.close();
    }
  });

  describe('a differencing disk over a qemu-made parent', () => {
    const blockSize = 8 * MiB;
    const size = 32 * MiB;
    let parentRaw: Buffer;
    let parentGuid: string;

    before(async () => {
      await makeRawImage(dir.file('parent.raw'), size, [{ offset: 0, length: size }]);
      await convertImage(dir.file('parent.raw'), dir.file('parent.vhdx'), 'vhdx', ['block_size=8M']);
      const parent = await VhdxDisk.open(dir.file('parent.vhdx'), openVirtualDisk);
      parentRaw = await parent.read(0, size);
      parentGuid = parent.header.dataWriteGuid;
      await parent.close();
    });

    function locator(linkage: string, relative = '.\\parent.vhdx'): Map<string, string> {
      return new Map([
        ['parent_linkage', `{${linkage}}`],
        ['relative_path', relative],
        ['absolute_win32_path', 'C:\\VMs\\parent.vhdx'],
      ]);
    }

    it('reads own blocks, the parent where absent, zeros where ZERO, and mixes partial blocks sector by sector', async () => {
      const own = randomBytes(blockSize);
      const partial = randomBytes(blockSize);
      // Sector i of the partial block comes from this file when bit i is set: here every third sector.
      const bitmap = Buffer.alloc(blockSize / 512 / 8);
      for (let s = 0; s < blockSize / 512; s += 3) {
        bitmap[s >>> 3] = (bitmap[s >>> 3] ?? 0) | (1 << (s & 7));
      }
      const path = dir.file('child.avhdx');
      await writeVhdxFixture(
        path,
        { virtualSize: size, blockSize, logicalSectorSize: 512, physicalSectorSize: 512 },
        [
          { state: 'full', data: own },
          { state: 'partial', data: partial, bitmap },
          { state: 'zero' },
          { state: 'notPresent' },
        ],
        { parentLocator: locator(parentGuid) },
      );
      const expected = Buffer.from(parentRaw);
      own.copy(expected, 0);
      for (let s = 0; s < blockSize / 512; s += 3) {
        partial.copy(expected, blockSize + s * 512, s * 512, (s + 1) * 512);
      }
      expected.fill(0, 2 * blockSize, 3 * blockSize);

      const disk = await openVirtualDisk(path);
      try {
        expect((await disk.read(0, size)).equals(expected)).to.be.true;
        // Unaligned reads that straddle the sector runs and block edges.
        expect(
          (await disk.read(blockSize - 700, 5000)).equals(
            expected.subarray(blockSize - 700, blockSize + 4300),
          ),
        ).to.be.true;
      } finally {
        await disk.close();
      }
    });

    it('refuses a parent whose DataWriteGuid no longer matches the link', async () => {
      const path = dir.file('stale.avhdx');
      await writeVhdxFixture(
        path,
        { virtualSize: size, blockSize, logicalSectorSize: 512, physicalSectorSize: 512 },
        Array(4).fill({ state: 'notPresent' }),
        {
          parentLocator: locator(randomUUID()),
        },
      );
      await expectFormatError(path, /does not match.*DataWriteGuid/);
    });

    it('refuses a parent chain that loops', async () => {
      const geometry = {
        virtualSize: size,
        blockSize,
        logicalSectorSize: 512,
        physicalSectorSize: 512,
      } as const;
      const guid = randomUUID();
      const blocks = Array(4).fill({ state: 'notPresent' });
      await writeVhdxFixture(dir.file('a.avhdx'), geometry, blocks, {
        parentLocator: locator(guid, 'b.avhdx'),
      });
      await writeVhdxFixture(dir.file('b.avhdx'), geometry, blocks, {
        parentLocator: locator(guid, 'a.avhdx'),
      });
      await expectFormatError(dir.file('a.avhdx'), /loops back/);
    });

    it('names the paths it tried when the parent is missing', async () => {
      const path = dir.file('orphan.avhdx');
      await writeVhdxFixture(
        path,
        { virtualSize: size, blockSize, logicalSectorSize: 512, physicalSectorSize: 512 },
        Array(4).fill({ state: 'notPresent' }),
        {
          parentLocator: locator(parentGuid, 'gone.vhdx'),
        },
      );
      await expectFormatError(path, /parent disk not found \(tried .*gone\.vhdx/);
    });
  });

  describe('damaged files give a clear error naming the problem', () => {
    let good: string;
    before(async () => {
      await makeRawImage(dir.file('small.raw'), 16 * MiB, [{ offset: 0, length: 16 * MiB }]);
      good = await convertImage(dir.file('small.raw'), dir.file('good.vhdx'), 'vhdx', ['block_size=8M']);
    });

    async function damaged(name: string, damage: (path: string) => Promise<void>): Promise<string> {
      const path = dir.file(name);
      await writeFile(path, await readFile(good));
      await damage(path);
      return path;
    }

    async function poke(path: string, offset: number, bytes: Buffer): Promise<void> {
      const h = await open(path, 'r+');
      await h.write(bytes, 0, bytes.length, offset);
      await h.close();
    }

    it('a bad file signature', async () => {
      await expectFormatError(
        await damaged('sig.vhdx', (p) => poke(p, 0, Buffer.from('garbage!'))),
        /missing 'vhdxfile' signature/,
      );
    });

    it('both headers failing their checksums', async () => {
      const path = await damaged('hdr.vhdx', async (p) => {
        await poke(p, 64 * 1024 + 100, Buffer.from([1, 2, 3]));
        await poke(p, 128 * 1024 + 100, Buffer.from([1, 2, 3]));
      });
      await expectFormatError(path, /no valid header.*checksum mismatch/);
    });

    it('a truncated file whose BAT points past its end', async () => {
      await expectFormatError(
        await damaged('cut.vhdx', (p) => truncate(p, 6 * MiB)),
        /outside the .*-byte file \(truncated or corrupt\)/,
      );
    });

    it('a file shorter than its header section', async () => {
      await expectFormatError(
        await damaged('stub.vhdx', (p) => truncate(p, 100_000)),
        /smaller than the 1 MiB VHDX header section/,
      );
    });

    it('a log that must be replayed first', async () => {
      const logGuid = randomUUID();
      const path = dir.file('dirty.vhdx');
      await writeVhdxFixture(
        path,
        { virtualSize: 8 * MiB, blockSize: 2 * MiB, logicalSectorSize: 512, physicalSectorSize: 512 },
        Array(4).fill({ state: 'notPresent' }),
        {
          logGuid,
          logEntry: makeLogEntry(logGuid),
        },
      );
      await expectFormatError(path, /log holds updates that must be replayed/);
    });

    it('a VHD footer that fails its checksum', async () => {
      const vhd = await convertImage(dir.file('small.raw'), dir.file('bad.vhd'), 'vpc', ['subformat=fixed']);
      const size = (await stat(vhd)).size;
      await poke(vhd, size - 512 + 40, Buffer.from([0xff]));
      await expectFormatError(vhd, /footer checksum mismatch/);
    });
  });
});
