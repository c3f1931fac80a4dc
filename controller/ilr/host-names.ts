import { createHash } from 'node:crypto';

/** Longest file name most Linux file systems accept, in UTF-8 bytes. */
const MAX_NAME_BYTES = 255;

export interface HostName {
  name: string;
  /** Why the name had to change; absent when the NTFS name is used as it is. */
  renamed?: string;
}

const hasLoneSurrogate = (s: string) => !s.isWellFormed();

/**
 * Maps an NTFS name to a name that is safe to create inside the output directory on this host.
 * NTFS (POSIX namespace) allows names a host cannot hold or that would step outside the target:
 * `.`/`..`, `/`, NUL, unpaired UTF-16 surrogates, more than 255 UTF-8 bytes. Those are renamed
 * deterministically (a short hash keeps distinct names distinct) and the reason is returned.
 */
export function hostName(ntfsName: string): HostName {
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
