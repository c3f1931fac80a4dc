import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { backupDisk } from '../../../controller/datapath/backup.js';
import { restoreDisk } from '../../../controller/datapath/restore.js';
import { openVirtualDisk } from '../../../controller/disk/index.js';
import { VhdxDisk } from '../../../controller/disk/vhdx.js';
import { checkRepository } from '../../../controller/repository/check.js';
import type { Repository } from '../../../controller/repository/repository.js';
import {
  MiB,
  convertImage,
  makeRawImage,
  tempDir,
  writeVhdxFixture,
  type TempDir,
} from '../../support/disk-images.js';
import { makeRepository } from '../../support/repositories.js';

const run = promisify(execFile);

async function guestView(path: string): Promise<{ data: Buffer; sector: number }> {
  const disk = await openVirtualDisk(path);
  try {
    return { data: await disk.read(0, disk.size), sector: disk.logicalSectorSize };
  } finally {
    await disk.close();
  }
}

describe('round trips through the repository for every source kind', function () {
  // Real qemu images and child processes: generous for CI's 2 shared cores.
  this.timeout(120_000);
  let dir: TempDir;
  let repo: Repository;
  const size = 24 * MiB;
  const sources: Record<string, () => Promise<string>> = {};

  before(async () => {
    dir = await tempDir();
    ({ repo } = await makeRepository(dir.file('repo')));
    await makeRawImage(dir.file('disk.raw'), size, [
      { offset: 512 * 1024, length: 3 * MiB },
      { offset: 17 * MiB, length: 4096 },
    ]);
    sources['dynamic VHDX (qemu-img)'] = () =>
      convertImage(dir.file('disk.raw'), dir.file('dyn.vhdx'), 'vhdx');
    sources['fixed VHDX (qemu-img)'] = () =>
      convertImage(dir.file('disk.raw'), dir.file('fixed.vhdx'), 'vhdx', ['subformat=fixed']);
    sources['dynamic VHD (qemu-img)'] = () =>
      convertImage(dir.file('disk.raw'), dir.file('dyn.vhd'), 'vpc', ['force_size=on']);
    sources['fixed VHD (qemu-img)'] = () =>
      convertImage(dir.file('disk.raw'), dir.file('fixed.vhd'), 'vpc', ['subformat=fixed', 'force_size=on']);
    sources['4 KiB-sector VHDX (hand-made)'] = async () => {
      const path = dir.file('4k.vhdx');
      const blockSize = 4 * MiB;
      const blocks = Array.from({ length: size / blockSize }, (_, b) =>
        b === 1 || b === 4
          ? { state: 'full' as const, data: randomBytes(blockSize) }
          : { state: 'notPresent' as const },
      );
      await writeVhdxFixture(
        path,
        { virtualSize: size, blockSize, logicalSectorSize: 4096, physicalSectorSize: 4096 },
        blocks,
      );
      return path;
    };
    sources['differencing VHDX (hand-made child of a qemu-img parent)'] = async () => {
      const parentPath = await convertImage(dir.file('disk.raw'), dir.file('base.vhdx'), 'vhdx', [
        'block_size=8M',
      ]);
      const parent = await VhdxDisk.open(parentPath, openVirtualDisk);
      const linkage = parent.header.dataWriteGuid;
      await parent.close();
      const path = dir.file('child.avhdx');
      await writeVhdxFixture(
        path,
        { virtualSize: size, blockSize: 8 * MiB, logicalSectorSize: 512, physicalSectorSize: 512 },
        [{ state: 'notPresent' }, { state: 'full', data: randomBytes(8 * MiB) }, { state: 'notPresent' }],
        {
          parentLocator: new Map([
            ['parent_linkage', `{${linkage}}`],
            ['relative_path', '.\\base.vhdx'],
          ]),
        },
      );
      return path;
    };
  });
  after(() => dir.remove());

  for (const kind of [
    'dynamic VHDX (qemu-img)',
    'fixed VHDX (qemu-img)',
    'dynamic VHD (qemu-img)',
    'fixed VHD (qemu-img)',
    '4 KiB-sector VHDX (hand-made)',
    'differencing VHDX (hand-made child of a qemu-img parent)',
  ]) {
    it(`restores a ${kind} byte for byte as raw and as a VHDX with the same sector size`, async () => {
      const source = await sources[kind]!();
      const expected = await guestView(source);
      const manifest = await backupDisk(repo, source, { name: kind, threads: 2 });
      const raw = dir.file(`${manifest.id}.raw`);
      await restoreDisk(repo, manifest.id, raw);
      expect((await readFile(raw)).equals(expected.data)).to.be.true;

      const vhdx = dir.file(`${manifest.id}.vhdx`);
      await restoreDisk(repo, manifest.id, vhdx, { format: 'vhdx' });
      const restored = await guestView(vhdx);
      expect(restored.sector).to.equal(expected.sector);
      expect(restored.data.equals(expected.data)).to.be.true;
      if (expected.sector === 512) {
        await run('qemu-img', ['check', '-q', '-f', 'vhdx', vhdx]);
        await run('qemu-img', ['compare', '-q', '-f', 'raw', '-F', 'vhdx', raw, vhdx]);
      }
    });
  }

  it('takes backups of several disks at once without a lock, all of them valid', async () => {
    const images = await Promise.all(
      [0, 1, 2].map(async (i) => {
        await makeRawImage(dir.file(`c${i}.raw`), 8 * MiB, [{ offset: i * MiB, length: 2 * MiB }]);
        return dir.file(`c${i}.raw`);
      }),
    );
    const manifests = await Promise.all(images.map((path) => backupDisk(repo, path, { threads: 1 })));
    expect((await checkRepository(repo, { readData: true })).problems).to.deep.equal([]);
    for (const [i, m] of manifests.entries()) {
      await restoreDisk(repo, m.id, dir.file(`c${i}.out`));
      expect((await readFile(dir.file(`c${i}.out`))).equals(await readFile(images[i]!))).to.be.true;
    }
  });
});
