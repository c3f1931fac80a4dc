import { CorruptVolumeError } from './errors.js';
import {
  Namespace,
  parseFileName,
  parseStandardInformation,
  type FileName,
  type StandardInformation,
} from './file-name.js';
import {
  AttributeType,
  parseAttributeList,
  type Attribute,
  type FileReference,
  type MftRecord,
  type NonResidentAttribute,
} from './mft-record.js';
import { parseReparsePoint, type ReparsePoint } from './reparse-point.js';

/** A file as its attributes describe it, gathered from its base record and any extension records. */
export interface NtfsFile {
  reference: FileReference;
  isDirectory: boolean;
  /** Its names (several for hard links), DOS 8.3 aliases left out. */
  names: FileName[];
  info: StandardInformation;
  /** Set for links, junctions, deduplicated and WOF-compressed files: their $DATA is not their content. */
  reparsePoint: ReparsePoint | null;
  attributes: Attribute[];
}

/** Names in order of preference: Win32 first, then POSIX; a DOS name only when it is all there is. */
function preferredNames(all: FileName[]): FileName[] {
  const rank = (n: FileName) =>
    n.namespace === Namespace.win32 || n.namespace === Namespace.win32AndDos
      ? 0
      : n.namespace === Namespace.posix
        ? 1
        : 2;
  const sorted = [...all].sort((a, b) => rank(a) - rank(b));
  const full = sorted.filter((n) => n.namespace !== Namespace.dos);
  return full.length > 0 ? full : sorted.slice(0, 1);
}

/** The extension records an $ATTRIBUTE_LIST value points to (never the base itself). */
export function listedRecords(listValue: Buffer, baseNumber: number): number[] {
  return [...new Set(parseAttributeList(listValue).map((e) => e.reference.record))].filter(
    (n) => n !== baseNumber,
  );
}

/**
 * Joins the pieces of attributes split across records: a long runlist is cut into several
 * attributes of the same type and name, each starting at its own lowest VCN.
 */
export function mergeAttributes(pieces: Attribute[]): Attribute[] {
  const merged: Attribute[] = [];
  const groups = new Map<string, NonResidentAttribute[]>();
  for (const attr of pieces) {
    if (attr.type === AttributeType.attributeList) {
      continue;
    }
    if (attr.resident) {
      merged.push(attr);
      continue;
    }
    const key = `${attr.type}:${attr.name}`;
    const group = groups.get(key);
    if (group) {
      group.push(attr);
    } else {
      groups.set(key, [attr]);
    }
  }
  for (const group of groups.values()) {
    group.sort((a, b) => a.lowestVcn - b.lowestVcn);
    const [first] = group;
    if (!first) {
      continue;
    }
    if (first.lowestVcn !== 0) {
      throw new CorruptVolumeError(
        `attribute 0x${first.type.toString(16)} "${first.name}" has no piece starting at VCN 0`,
      );
    }
    merged.push({
      ...first,
      runs: group.flatMap((p) => p.runs),
      highestVcn: group.at(-1)?.highestVcn ?? first.highestVcn,
    });
  }
  return merged;
}

export function buildFile(base: MftRecord, attributes: Attribute[]): NtfsFile {
  const where = `MFT record ${base.number}`;
  const info = attributes.find((a) => a.type === AttributeType.standardInformation);
  if (!info?.resident) {
    throw new CorruptVolumeError(`${where}: no resident $STANDARD_INFORMATION`);
  }
  const names = attributes.flatMap((a) =>
    a.type === AttributeType.fileName && a.resident ? [parseFileName(a.value)] : [],
  );
  const reparse = attributes.find((a) => a.type === AttributeType.reparsePoint);
  return {
    reference: { record: base.number, sequence: base.sequence },
    isDirectory: base.isDirectory,
    names: preferredNames(names),
    info: parseStandardInformation(info.value),
    // Reparse data over a few hundred bytes is stored non-resident; its tag is then not looked up.
    reparsePoint: reparse
      ? reparse.resident
        ? parseReparsePoint(reparse.value)
        : { tag: 0, target: null }
      : null,
    attributes,
  };
}
