/**
 * The real inputs the fuzzer starts from: images made by the tools that make them in the field
 * (qemu-img, sgdisk, sfdisk, mkntfs/wimapply) and objects from a repository holding real backups.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { execa } from 'execa';
import { decodeObject } from '../../../controller/repository/codec.js';
import { unseal } from '../../../controller/repository/crypto.js';
import { packIdOfKey } from '../../../controller/repository/layout.js';
import { MiB, convertImage, makeRawImage, type TempDir } from '../../support/disk-images.js';
import { repoRoot } from '../../support/kube.js';
import type { TargetContext, TargetName } from './fuzz-targets.js';
import { backedUpRepository, storedKeys } from './backed-up-repository.js';

const run = promisify(execFile);

export interface Base {
  target: TargetName;
  base: Buffer;
  context: TargetContext;
}

async function diskBases(dir: TempDir): Promise<Base[]> {
  const raw = dir.file('disk.raw');
  await makeRawImage(raw, 8 * MiB, [
    { offset: 0, length: 4096 },
    { offset: 3 * MiB + 512, length: 4096 },
    { offset: 8 * MiB - 4096, length: 4096 },
  ]);
  const vhdx = await convertImage(raw, dir.file('disk.vhdx'), 'vhdx', ['block_size=1M']);
  const vhd = await convertImage(raw, dir.file('disk.vhd'), 'vpc', ['subformat=dynamic']);

  const gpt = dir.file('gpt.img');
  await writeFile(gpt, Buffer.alloc(0));
  await truncate(gpt, 4 * MiB);
  await run('sgdisk', [
    '-o',
    '-n',
    '1:2048:+1M',
    '-t',
    '1:EF00',
    '-c',
    '1:EFI system',
    '-n',
    '2:0:0',
    '-t',
    '2:0700',
    gpt,
  ]);
  const mbr = dir.file('mbr.img');
  await writeFile(mbr, Buffer.alloc(0));
  await truncate(mbr, 8 * MiB);
  // A primary, and an extended partition chaining two logical ones: the EBR chain is parsed too.
  await execa('sfdisk', ['-q', mbr], {
    input: [
      'label: dos',
      'start=2048, size=1024, type=c',
      'start=4096, type=5',
      'size=1024, type=7',
      'size=1024, type=7',
    ].join('\n'),
  });
  return [
    { target: 'vhdx', base: await readFile(vhdx), context: { scratch: dir.path } },
    { target: 'vhd', base: await readFile(vhd), context: { scratch: dir.path } },
    { target: 'gpt', base: await readFile(gpt), context: { scratch: dir.path } },
    { target: 'mbr', base: await readFile(mbr), context: { scratch: dir.path } },
  ];
}

/** A small NTFS volume in a GPT disk: a directory with enough files for index blocks, data in runs, an ADS. */
async function ntfsBase(dir: TempDir): Promise<Base> {
  const tree = dir.file('tree');
  await mkdir(join(tree, 'docs', 'many'), { recursive: true });
  await writeFile(join(tree, 'docs', 'readme.txt'), 'read me\n');
  for (let i = 0; i < 80; i++) {
    await writeFile(join(tree, 'docs', 'many', `file-${i}.txt`), `file ${i}\n`);
  }
  await writeFile(join(tree, 'big.bin'), Buffer.alloc(200 * 1024, 7));
  await writeFile(dir.file('ads'), 'stream data');
  const image = dir.file('ntfs.img');
  await run(join(repoRoot, 'hack/make-ntfs-image.sh'), [
    '--table',
    'gpt',
    '--size-mib',
    '12',
    '--ads',
    `/docs/readme.txt:notes=${dir.file('ads')}`,
    tree,
    image,
  ]);
  return { target: 'ntfs', base: await readFile(image), context: { scratch: dir.path } };
}

/** Plaintext and sealed objects of a repository with real backups, and the keys to open them. */
async function repositoryBases(): Promise<{ bases: Base[]; remove: () => Promise<void> }> {
  const fixture = await backedUpRepository();
  const { repo } = fixture;
  const keys = await storedKeys(fixture.root);
  const first = (prefix: string) => keys.find((k) => k.startsWith(prefix))!;
  const packKey = first('packs/');
  const pack = await readFile(join(fixture.root, packKey));
  const packId = packIdOfKey(packKey);
  const headerLength = pack.readUInt32LE(pack.length - 8);
  const headerStart = pack.length - 8 - headerLength;
  const context: TargetContext = {
    scratch: fixture.dir.path,
    encryptionKey: repo.keys.encryption.toString('hex'),
    chunkIdKey: repo.keys.chunkId.toString('hex'),
    keyMaterial: fixture.key.toString('hex'),
    packId,
    packBlobs: pack.subarray(0, headerStart).toString('hex'),
  };
  const manifestKey = first('manifests/');
  const indexKey = first('index/');
  const plain = async (key: string) => decodeObject(repo.keys, key, await readFile(join(fixture.root, key)));
  const header = unseal(
    repo.keys.encryption,
    pack.subarray(headerStart, pack.length - 8),
    Buffer.from(`pack header ${packId}`),
    'header',
  );
  return {
    bases: [
      { target: 'repository config', base: await readFile(join(fixture.root, 'config')), context },
      { target: 'repository manifest', base: await plain(manifestKey), context },
      { target: 'repository index', base: await plain(indexKey), context },
      { target: 'repository pack', base: pack, context },
      { target: 'repository pack header', base: header, context },
    ],
    remove: () => fixture.dir.remove(),
  };
}

export async function fuzzBases(dir: TempDir): Promise<{ bases: Base[]; remove: () => Promise<void> }> {
  const repository = await repositoryBases();
  try {
    return {
      bases: [...(await diskBases(dir)), await ntfsBase(dir), ...repository.bases],
      remove: repository.remove,
    };
  } catch (err) {
    // The caller gets no handle to remove the repository's folder with: remove it here.
    await repository.remove();
    throw err;
  }
}
