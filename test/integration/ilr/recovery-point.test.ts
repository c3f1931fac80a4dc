import { expect } from 'chai';
import { execa } from 'execa';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RecoveryPointResource } from '../../../controller/api/index.js';
import { backupDisk } from '../../../controller/datapath/backup.js';
import { Repository } from '../../../controller/repository/repository.js';
import { openStorage } from '../../../controller/storage/open.js';
import { apply, patchStatus, repoRoot, useNamespace } from '../../support/kube.js';
import { sharedNtfsFixture } from '../../support/ntfs-images.js';

const KEY = 'item-level recovery through the cluster';

describe('files --recovery-point', () => {
  const namespace = useNamespace('ilr');
  let dir: string;
  let manifestId: string;

  before(async function () {
    this.timeout(120000);
    const fixture = await sharedNtfsFixture();
    dir = await mkdtemp(join(tmpdir(), 'shadowkeep-ilr-cluster-'));
    const repo = await Repository.init(openStorage(pathToFileURL(join(dir, 'repo')).href), Buffer.from(KEY));
    manifestId = (await backupDisk(repo, fixture.gpt, { name: 'fileserver/disk0' })).id;
    await apply(
      [
        { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'repo-key' }, stringData: { password: KEY } },
        {
          apiVersion: 'shadowkeep.io/v1alpha1',
          kind: 'BackupRepository',
          metadata: { name: 'primary' },
          spec: {
            type: 'Filesystem',
            filesystem: { path: join(dir, 'repo') },
            encryptionKeySecret: 'repo-key',
          },
        },
        {
          apiVersion: 'shadowkeep.io/v1alpha1',
          kind: 'RecoveryPoint',
          metadata: { name: 'fileserver-monday' },
          spec: { vm: { name: 'fileserver' }, repository: 'primary' },
        },
      ],
      { namespace: namespace.name },
    );
    // As the host agent reports a finished backup.
    await patchStatus(RecoveryPointResource, 'fileserver-monday', namespace.name, {
      phase: 'Completed',
      repository: 'primary',
      disks: [{ controllerLocation: 'SCSI 0:0', fileName: 'fileserver.vhdx', manifest: manifestId }],
    });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('lists a folder of a RecoveryPoint by name, reading the key from its repository Secret', async function () {
    this.timeout(60000);
    const result = await execa(
      join(repoRoot, 'bin/shadowkeep'),
      ['files', 'ls', '--recovery-point', 'fileserver-monday', '--namespace', namespace.name, '/unicode'],
      { reject: false },
    );
    expect(result.stderr).to.match(/read [\d.]+ KiB from the repository/);
    expect(result.stdout).to.include('Ünïcødé 名前.txt');
    expect(result.exitCode).to.equal(0);
  });

  it('names the RecoveryPoint that does not exist', async function () {
    this.timeout(60000);
    const result = await execa(
      join(repoRoot, 'bin/shadowkeep'),
      ['files', 'ls', '--recovery-point', 'nope', '--namespace', namespace.name],
      { reject: false },
    );
    expect(result.exitCode).to.equal(1);
    expect(result.stderr).to.equal(`shadowkeep files: no RecoveryPoint ${namespace.name}/nope`);
  });

  it('answers kubectl shadowkeep files ls and get by the RecoveryPoint name', async function () {
    this.timeout(60000);
    const plugin = join(repoRoot, 'bin/kubectl-shadowkeep');
    const ls = await execa(plugin, ['files', 'ls', 'fileserver-monday', '/unicode', '-n', namespace.name], {
      reject: false,
    });
    expect(ls.exitCode, ls.stderr).to.equal(0);
    expect(ls.stdout).to.include('Ünïcødé 名前.txt');
    const out = await mkdtemp(join(tmpdir(), 'sk-plugin-files-'));
    try {
      const get = await execa(
        plugin,
        [
          'files',
          'get',
          'fileserver-monday',
          '/unicode/Ünïcødé 名前.txt',
          '--out',
          out,
          '-n',
          namespace.name,
        ],
        { reject: false },
      );
      expect(get.exitCode, get.stderr).to.equal(0);
      expect((await readdir(out)).map((n) => n.normalize())).to.deep.equal(['Ünïcødé 名前.txt'.normalize()]);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
    const missing = await execa(plugin, ['files', 'ls', 'nope', '-n', namespace.name], { reject: false });
    expect(missing.exitCode).to.equal(1);
    expect(missing.stderr).to.equal(`kubectl shadowkeep files: no RecoveryPoint ${namespace.name}/nope`);
  });
});
