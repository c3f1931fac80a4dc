import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createKeyFile } from '../../../controller/datapath/key-file.js';
import { WrongKeyError } from '../../../controller/repository/errors.js';
import { isGeneratedKey } from '../../../controller/repository/keys.js';
import { Repository } from '../../../controller/repository/repository.js';
import { FilesystemStorage } from '../../../controller/storage/filesystem.js';
import { tempDir, type TempDir } from '../../support/disk-images.js';

describe('key files', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(() => dir.remove());

  const init = async (material: Buffer): Promise<Repository> =>
    Repository.init(new FilesystemStorage(dir.file('repo')), material);
  const reopen = (material: Buffer): Promise<Repository> =>
    Repository.open(new FilesystemStorage(dir.file('repo')), material);

  it('wraps the master key under a generated key file with HKDF, and it unlocks the repository again', async () => {
    const material = await createKeyFile(dir.file('repo.key'));
    expect((await readFile(dir.file('repo.key'), 'utf8')).startsWith('shadowkeep-key-v1:')).to.be.true;
    const repo = await init(material);
    expect(repo.config.keys.map((k) => k.kdf)).to.deep.equal(['hkdf-sha256']);
    expect((await reopen(material)).sharesKeysWith(repo)).to.be.true;
  });

  it('stretches a passphrase with scrypt', async () => {
    const passphrase = Buffer.from('correct horse battery staple\n');
    const repo = await init(passphrase);
    expect(repo.config.keys.map((k) => k.kdf)).to.deep.equal(['scrypt']);
    expect((await reopen(passphrase)).sharesKeysWith(repo)).to.be.true;
  });

  it('takes a key file that only looks generated for a passphrase', () => {
    const real = `shadowkeep-key-v1:${randomBytes(32).toString('base64')}`;
    expect(isGeneratedKey(Buffer.from(real))).to.be.true;
    expect(isGeneratedKey(Buffer.from(`${real}\n`))).to.be.true;
    expect(isGeneratedKey(Buffer.from(`shadowkeep-key-v1:${randomBytes(16).toString('base64')}`))).to.be
      .false;
    expect(isGeneratedKey(Buffer.from(`${real} and more`))).to.be.false;
    expect(isGeneratedKey(Buffer.from(`shadowkeep-key-v1:${'A'.repeat(43)}=`.replace(/^s/, 'S')))).to.be
      .false;
  });

  it('refuses a different generated key with a clear error', async () => {
    await init(await createKeyFile(dir.file('a.key')));
    const other = await createKeyFile(dir.file('b.key'));
    const err = await reopen(other).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(WrongKeyError);
    expect((err as Error).message).to.match(/does not unlock this repository/);
  });

  it('keeps unlocking repositories made with an untagged random key file through scrypt', async () => {
    const legacy = Buffer.from(`${randomBytes(32).toString('base64')}\n`);
    await writeFile(dir.file('legacy.key'), legacy);
    const repo = await init(legacy);
    expect(repo.config.keys[0]?.kdf).to.equal('scrypt');
    expect((await reopen(legacy)).sharesKeysWith(repo)).to.be.true;
  });
});
