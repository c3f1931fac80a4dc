/**
 * A real NTFS volume whose file names are made to escape a restore destination or trip a host:
 * names Linux can create (Windows-reserved devices, `:`, `\`, `*?<>|"`, trailing dots and spaces,
 * line breaks, bidi overrides) are written by wimapply; names no Linux tool can create (`..`, `.`,
 * `/`, NUL, an unpaired surrogate) are patched into the volume's MFT records and directory index
 * in place of placeholders of the same length, as a hostile or damaged guest could leave them.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TempDir } from '../../support/disk-images.js';
import { repoRoot } from '../../support/kube.js';

const run = promisify(execFile);

/** Names the host file system can hold, written as they are. */
export const WRITABLE_NAMES = [
  'CON',
  'nul.txt',
  'COM1.log',
  'report.docx:Zone.Identifier',
  'back\\slash',
  'C:\\Windows',
  'star*',
  'what?',
  '<angle>',
  'pipe|',
  'quote"',
  'trailing dot.',
  'trailing space ',
  'line\nbreak',
  '\u202egpj.exe',
  `${'long '.repeat(50)}end`,
  'it\'s "x"; $(Stop-Computer) `whoami`',
];

/** Placeholder written by wimapply → the name patched over it (same length in UTF-16 units). */
export const PATCHED_NAMES: Record<string, string> = {
  P1: '..',
  Q: '.',
  PS3: 'a/b',
  PN3: 'x\0y',
  PT0123456789: '../../escape',
  PA012345678: '/etc/passwd',
  PU: '\ud800x',
};

/** The directory named `..` (patched from P1) holds a file, so restoring it would write above the target. */
const INSIDE_DOTDOT = 'inside.txt';

export function contentOf(name: string): string {
  return `content of ${JSON.stringify(name)}\n`;
}

/** Replaces every on-disk `length, namespace, UTF-16 name` of each placeholder; returns how many per name. */
function patchNames(image: Buffer): Map<string, number> {
  const counts = new Map<string, number>();
  for (const [placeholder, hostile] of Object.entries(PATCHED_NAMES)) {
    const name = Buffer.from(placeholder, 'utf16le');
    let count = 0;
    for (let at = image.indexOf(name); at >= 0; at = image.indexOf(name, at + 1)) {
      // A $FILE_NAME value stores the name length (in UTF-16 units) and namespace just before it.
      if (at >= 2 && image[at - 2] === placeholder.length && (image[at - 1] ?? 9) <= 3) {
        for (let i = 0; i < hostile.length; i++) {
          image.writeUInt16LE(hostile.charCodeAt(i), at + 2 * i);
        }
        count++;
      }
    }
    counts.set(hostile, count);
  }
  return counts;
}

export async function hostileNtfsImage(dir: TempDir): Promise<string> {
  const tree = dir.file('hostile-tree');
  await mkdir(join(tree, 'names'), { recursive: true });
  for (const name of WRITABLE_NAMES) {
    await writeFile(join(tree, 'names', name), contentOf(name));
  }
  for (const [placeholder, hostile] of Object.entries(PATCHED_NAMES)) {
    if (hostile === '..') {
      await mkdir(join(tree, 'names', placeholder));
      await writeFile(join(tree, 'names', placeholder, INSIDE_DOTDOT), contentOf(INSIDE_DOTDOT));
    } else {
      await writeFile(join(tree, 'names', placeholder), contentOf(hostile));
    }
  }
  const image = dir.file('hostile.img');
  await run(join(repoRoot, 'hack/make-ntfs-image.sh'), ['--table', 'gpt', '--size-mib', '16', tree, image]);
  const bytes = await readFile(image);
  const counts = patchNames(bytes);
  // Each name lives in its MFT record and in the directory's index: both must carry the hostile name.
  const missed = [...counts].filter(([, n]) => n < 2);
  if (missed.length > 0) {
    throw new Error(`placeholders not patched twice: ${JSON.stringify(missed)}`);
  }
  await writeFile(image, bytes);
  return image;
}
