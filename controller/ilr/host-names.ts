import { createHash } from 'node:crypto';

/** Longest file name most Linux file systems accept, in UTF-8 bytes. */
const MAX_NAME_BYTES = 255;

export interface HostName {
  name: string;
  /** Why the name had to change; absent when the NTFS name is used as it is. */
  renamed?: string;
}

const hasLoneSurrogate = (s: string) => !s.isWellFormed();

/** Device names Windows resolves in every folder, with or without an extension (`CON`, `nul.txt`, `COM1.log`). */
const WINDOWS_DEVICE =
  /^(?:CON|PRN|AUX|NUL|COM[0-9\u00b9\u00b2\u00b3]|LPT[0-9\u00b9\u00b2\u00b3])(?:\..*)?$/i;
/** Characters Windows refuses in a name; `:` would open an alternate data stream instead. */
// eslint-disable-next-line no-control-regex -- control characters are among them
const WINDOWS_FORBIDDEN = /[<>:"/\\|?*\u0000-\u001f]/;

/**
 * Maps an NTFS name to a name that is safe to create inside the output directory on this host.
 * NTFS (POSIX namespace) allows names a host cannot hold or that would step outside the target:
 * `.`/`..`, `/`, NUL, unpaired UTF-16 surrogates, more than 255 UTF-8 bytes. On Windows also
 * `\`, `:` (which would write an alternate stream of another file), `<>"|?*`, device names such as
 * `CON` or `nul.txt`, and trailing dots and spaces (which Windows drops, merging two names). Those
 * are renamed deterministically (a short hash keeps distinct names distinct) and the reason is returned.
 */
export function hostName(ntfsName: string, platform: NodeJS.Platform = process.platform): HostName {
  const reasons: string[] = [];
  let name = ntfsName;
  if (name === '' || name === '.' || name === '..') {
    return { name: `_${hash(ntfsName)}`, renamed: `"${ntfsName}" is not a valid file name` };
  }
  if (hasLoneSurrogate(name)) {
    name = name.toWellFormed();
    reasons.push('unpaired UTF-16 surrogate');
  }
  if (/[/\0]/.test(name)) {
    name = name.replace(/[/\0]/g, '_');
    reasons.push('"/" or NUL in the name');
  }
  if (platform === 'win32') {
    if (WINDOWS_FORBIDDEN.test(name)) {
      name = name.replace(new RegExp(WINDOWS_FORBIDDEN, 'g'), '_');
      reasons.push('a character Windows does not allow in a name');
    }
    if (/[. ]$/.test(name)) {
      name = name.replace(/[. ]+$/, (tail) => '_'.repeat(tail.length));
      reasons.push('a trailing dot or space, which Windows drops');
    }
    if (WINDOWS_DEVICE.test(name)) {
      name = `_${name}`;
      reasons.push('a Windows device name');
    }
  }
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
    reasons.push(`longer than ${MAX_NAME_BYTES} UTF-8 bytes`);
  }
  if (reasons.length === 0) {
    return { name };
  }
  // The hash of the original keeps two names that clean up alike from landing on one host file.
  const suffix = `~${hash(ntfsName)}`;
  // Cut whole graphemes, so an accent or emoji is never split from its base character.
  const graphemes = Array.from(new Intl.Segmenter().segment(name), (s) => s.segment);
  while (Buffer.byteLength(graphemes.join('')) + suffix.length > MAX_NAME_BYTES) {
    graphemes.pop();
  }
  return { name: graphemes.join('') + suffix, renamed: reasons.join(', ') };
}

function hash(s: string): string {
  return createHash('sha256').update(s, 'utf16le').digest('hex').slice(0, 8);
}
