import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { openVirtualDisk, type VirtualDisk } from '../../../controller/disk/index.js';
import {
  MiB,
  convertImage,
  makeRawImage,
  qemuIo,
  qemuRawView,
  tempDir,
  type TempDir,
} from '../../support/disk-images.js';

async function readAll(disk: VirtualDisk): Promise<Buffer> {
  const out = Buffer.alloc(disk.size);
  // Odd-sized reads cross block boundaries on purpose.
  const step = 3 * MiB + 512;
  for (let at = 0; at < disk.size; at += step) {
    await disk.readInto(at, out.subarray(at, Math.min(at + step, disk.size)));
  }
  return out;
}

function isZero(buf: Buffer): boolean {
  return buf.every((b) => b === 0);
}

describe('virtual disk readers on images made by qemu', function () {
  // Real qemu images and child processes: generous for CI's 2 shared cores.
  this.timeout(120_000);
  let dir: TempDir;
  const size = 40 * MiB;
  const regions = [
    { offset: 0, length: MiB },
    { offset: 9 * MiB + 4096, length: 3 * MiB },
    { offset: 33 * MiB, length: 512 * 1024 },
  ];

  before(async () => {
    dir = await tempDir();
    await makeRawImage(dir.file('disk.raw'), size, regions);
  });
  after(() => dir.remove());

  for (const subformat of ['dynamic', 'fixed']) {
    it(`reads a ${subformat} VHDX made by qemu-img byte for byte as the raw image`, async () => {
      const path = await convertImage(dir.file('disk.raw'), dir.file(`${subformat}.vhdx`), 'vhdx', [
        `subformat=${subformat}`,
        'block_size=8M',
      ]);
      const disk = await openVirtualDisk(path);
      try {
        expect(disk.format).to.equal('vhdx');
        expect(disk.size).to.equal(size);
        expect((await readAll(disk)).equals(await readFile(dir.file('disk.raw')))).to.be.true;
      } finally {
        await disk.close();
      }
    });
  }

  it('reports only the blocks qemu allocated, and everything outside them reads as zeros', async () => {
    const path = await convertImage(dir.file('disk.raw'), dir.file('alloc.vhdx'), 'vhdx', ['block_size=8M']);
    const disk = await openVirtualDisk(path);
    try {
      const allocated = disk.allocatedRanges();
      expect(allocated).to.deep.equal([
        { offset: 0, length: 16 * MiB },
        { offset: 32 * MiB, length: 8 * MiB },
      ]);
      expect(isZero(await disk.read(16 * MiB, 16 * MiB))).to.be.true;
    } finally {
      await disk.close();
    }
  });

  it('sees in-place writes made by qemu-io after conversion, including into new blocks', async () => {
    const path = await convertImage(dir.file('disk.raw'), dir.file('written.vhdx'), 'vhdx', [
      'block_size=8M',
    ]);
    await qemuIo(path, 'vhdx', 'write -P 0xab 20M 64k', 'write -P 0xcd 1M 4k');
    const disk = await openVirtualDisk(path);
    try {
      expect((await readAll(disk)).equals(await qemuRawView(path, 'vhdx', dir))).to.be.true;
    } finally {
      await disk.close();
    }
  });

  for (const subformat of ['dynamic', 'fixed']) {
    it(`reads a ${subformat} VHD made by qemu-img as qemu reads it`, async () => {
      const path = await convertImage(dir.file('disk.raw'), dir.file(`${subformat}.vhd`), 'vpc', [
        `subformat=${subformat}`,
        'force_size=on',
      ]);
      await qemuIo(path, 'vpc', 'write -P 0x5a 30M 8k');
      const disk = await openVirtualDisk(path);
      try {
        expect(disk.format).to.equal('vhd');
        expect((await readAll(disk)).equals(await qemuRawView(path, 'vpc', dir))).to.be.true;
      } finally {
        await disk.close();
      }
    });
  }

  it('reads a raw image as itself', async () => {
    const disk = await openVirtualDisk(dir.file('disk.raw'));
    try {
      expect(disk.format).to.equal('raw');
      expect((await readAll(disk)).equals(await readFile(dir.file('disk.raw')))).to.be.true;
    } finally {
      await disk.close();
    }
  });

  it('rejects reads outside the disk with a RangeError', async () => {
    const disk = await openVirtualDisk(dir.file('disk.raw'));
    try {
      await disk.read(size - 10, 20).then(
        () => expect.fail('read past the end succeeded'),
        (err: unknown) => expect(err).to.be.instanceOf(RangeError),
      );
    } finally {
      await disk.close();
    }
  });
});
