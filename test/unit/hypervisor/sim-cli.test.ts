import { expect } from 'chai';
import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { FileHost } from '../../../controller/hypervisor/filehost/filehost.js';

const main = fileURLToPath(new URL('../../../controller/cli/main.js', import.meta.url));

describe('shadowkeep sim', function () {
  this.timeout(30_000);
  let root: string;
  const sim = async (
    ...args: string[]
  ): Promise<{ stdout: string; stderr: string; exitCode: number | undefined }> => {
    const r = await execa(process.execPath, [main, 'sim', '--root', root, ...args], { reject: false });
    return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode };
  };
  beforeEach(async () => {
    root = await mkdtemp(`${tmpdir()}/shadowkeep-simcli-`);
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('builds a two-node cluster, runs a guest writer in a VM and migrates it', async () => {
    expect((await sim('host', 'create', 'hv-1', '--cluster', 'clu')).exitCode).to.equal(0);
    expect((await sim('host', 'create', 'hv-2', '--cluster', 'clu')).exitCode).to.equal(0);
    const created = await sim(
      'vm',
      'create',
      'web "01"; $(x)',
      '--host',
      'hv-1',
      '--storage',
      'csv:Volume1',
      '--disk',
      '16M',
      '--running',
    );
    expect(created.exitCode, created.stderr).to.equal(0);
    const id = created.stdout.trim();
    const writer = await sim('write', id, '--writer', '--count', '3', '--interval-ms', '1');
    expect(writer.stdout).to.contain('3 writes');
    expect((await sim('ic', 'web "01"; $(x)', 'backup', 'off')).exitCode).to.equal(0);
    expect((await sim('migrate', id, '--to', 'hv-2')).exitCode).to.equal(0);
    const list = await sim('vm', 'list');
    expect(list.stdout.trim()).to.equal(`${id}\tweb "01"; $(x)\thv-2\tRunning\tSavedState`);
    const vm = await new FileHost({ root, node: 'hv-2' }).getVm(id);
    expect(vm?.disks[0]?.storage).to.equal('CSV');
  });

  it('explains a refused operation without a stack trace', async () => {
    await sim('host', 'create', 'hv-1');
    const id = (await sim('vm', 'create', 'db', '--host', 'hv-1', '--blank-disk', '8M')).stdout.trim();
    const paused = await sim('pause', id);
    expect(paused.exitCode).to.equal(1);
    expect(paused.stderr.trim()).to.equal('shadowkeep sim: VM db cannot go from Off to Paused');
    expect((await sim('vm', 'create', 'x', '--host', '../etc')).stderr).to.match(/not a valid node name/);
  });
});
