import { expect } from 'chai';
import { execa } from 'execa';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { runGuestWriter } from '../../../controller/hypervisor/filehost/guest-writer.js';
import { SimCluster } from '../../../controller/hypervisor/filehost/sim.js';
import { vhdxToRaw } from '../../../controller/hypervisor/filehost/tools.js';

describe('simulated guest disks', function () {
  this.timeout(30_000);
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(`${tmpdir()}/shadowkeep-ntfs-`);
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** The first partition of a raw MBR disk, cut out so ntfs-3g's tools can read it. */
  async function firstPartition(raw: string): Promise<string> {
    const disk = await open(raw, 'r');
    try {
      const mbr = Buffer.alloc(512);
      await disk.read(mbr, 0, 512, 0);
      expect(mbr.readUInt16LE(510)).to.equal(0xaa55);
      expect(mbr[446 + 4]).to.equal(0x07);
      const start = mbr.readUInt32LE(446 + 8) * 512;
      const length = mbr.readUInt32LE(446 + 12) * 512;
      const part = Buffer.alloc(length);
      await disk.read(part, 0, length, start);
      const path = `${raw}.p1`;
      const out = await open(path, 'w');
      await out.write(part);
      await out.close();
      return path;
    } finally {
      await disk.close();
    }
  }

  it('holds a real NTFS volume with the given files, which a guest writer leaves intact', async () => {
    const sim = new SimCluster(root);
    await sim.createHost({ name: 'hv-1' });
    const vm = await sim.createVm({
      name: 'files',
      owner: 'hv-1',
      storage: `${root}/hosts/hv-1/local`,
      running: true,
      disks: [
        {
          kind: 'Ntfs',
          sizeBytes: 16 * 1024 * 1024,
          files: [{ name: 'web.config', data: Buffer.from('<configuration/>\n') }],
        },
      ],
    });
    // 64 KiB blocks: 40 writes cover the writer's whole area and wrap around.
    await runGuestWriter(sim, vm.id, { count: 40, blockSize: 64 * 1024 });
    const raw = `${root}/disk.raw`;
    await vhdxToRaw(vm.disks[0]!.path!, raw);
    const partition = await firstPartition(raw);
    expect((await execa('ntfscat', [partition, 'web.config'])).stdout).to.equal('<configuration/>');
    expect((await execa('ntfsinfo', ['-m', partition])).stdout).to.match(/Volume Name: Data/);
  });
});
