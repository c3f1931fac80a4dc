/**
 * A structured, seeded mutator: changes a real input where its format keeps its structures (the
 * regions a target names), with the edits parsers trip over (bit flips, boundary integers in
 * length and offset fields, copied and zeroed spans, truncation), then lets the target repair its
 * checksums so most inputs get past the first integrity check into the parser proper.
 */
import { Rng } from './rng.js';

export interface Region {
  offset: number;
  length: number;
}

/** Integers that sit on the edges parsers get wrong: zero, one, signs, powers of two, all ones. */
const BOUNDARY_U32 = [
  0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x1000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff,
];
const BOUNDARY_U64 = [0n, 1n, 2n ** 31n, 2n ** 32n, 2n ** 40n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 64n - 1n];

function spot(rng: Rng, regions: readonly Region[], data: Buffer, width = 1): number {
  // Regions describe the untruncated input: clip them to what is left.
  const inside = regions
    .map((r) => ({ offset: r.offset, length: Math.min(r.length, data.length - r.offset) }))
    .filter((r) => r.length >= width);
  if (inside.length === 0) {
    return rng.below(Math.max(1, data.length - width + 1));
  }
  const r = rng.pick(inside);
  const at = r.offset + rng.below(r.length - width + 1);
  // Fields are mostly aligned: snap two out of three multi-byte writes to their natural alignment.
  return width > 1 && rng.below(3) > 0 ? at - (at % width) : at;
}

type Edit = (rng: Rng, data: Buffer, regions: readonly Region[]) => Buffer;

const EDITS: Edit[] = [
  (rng, data, regions) => {
    const at = spot(rng, regions, data);
    data[at] = data[at]! ^ (1 << rng.below(8));
    return data;
  },
  (rng, data, regions) => {
    data[spot(rng, regions, data)] = rng.pick([0, 1, 0x7f, 0x80, 0xfe, 0xff]);
    return data;
  },
  (rng, data, regions) => {
    if (data.length >= 2) {
      data.writeUInt16LE(rng.pick([0, 1, 0x7fff, 0x8000, 0xffff]), spot(rng, regions, data, 2));
    }
    return data;
  },
  (rng, data, regions) => {
    if (data.length >= 4) {
      const at = spot(rng, regions, data, 4);
      const value = rng.pick(BOUNDARY_U32);
      // Off-by-one neighbours of the current value catch fence-post checks.
      const near = (data.readUInt32LE(at) + rng.pick([1, -1, 0x1000])) >>> 0;
      data.writeUInt32LE(rng.below(2) === 0 ? value : near, at);
    }
    return data;
  },
  (rng, data, regions) => {
    if (data.length >= 8) {
      data.writeBigUInt64LE(rng.pick(BOUNDARY_U64), spot(rng, regions, data, 8));
    }
    return data;
  },
  (rng, data, regions) => {
    // A span copied from elsewhere in the structures: plausible-looking values in the wrong place.
    const length = 1 + rng.below(64);
    if (data.length > length) {
      const from = spot(rng, regions, data, length);
      data.copy(data, spot(rng, regions, data, length), from, from + length);
    }
    return data;
  },
  (rng, data, regions) => {
    const length = 1 + rng.below(512);
    if (data.length > length) {
      const at = spot(rng, regions, data, length);
      data.fill(rng.pick([0, 0xff]), at, at + length);
    }
    return data;
  },
  (rng, data) => {
    // Rarely: a truncated file, as a copy cut short leaves it.
    return rng.below(8) === 0 ? data.subarray(0, rng.below(data.length)) : data;
  },
];

/** Applies 1-8 edits to a copy of `base`; the same seed always gives the same bytes. */
export function mutateBytes(base: Buffer, regions: readonly Region[], seed: number): Buffer {
  const rng = new Rng(seed);
  let data: Buffer = Buffer.from(base);
  const edits = 1 + rng.below(8);
  for (let i = 0; i < edits; i++) {
    data = rng.pick(EDITS)(rng, data, regions);
  }
  return data;
}

/** Values that break assumptions about JSON fields: types, signs, sizes, paths. */
const HOSTILE_VALUES: unknown[] = [
  null,
  -1,
  0,
  0.5,
  1e308,
  2 ** 53 + 2,
  '',
  'x',
  '../../../etc/passwd',
  'ff'.repeat(40),
  [],
  [null],
  {},
  { a: 1 },
  true,
  'x'.repeat(100_000),
];

/** Replaces one value anywhere in a JSON document with a hostile one (or deletes the key). */
export function mutateJson(base: Buffer, seed: number): Buffer {
  const rng = new Rng(seed);
  const doc = JSON.parse(base.toString('utf8')) as unknown;
  // Mostly one edit: each is drastic, and one bad field at a time reaches the deeper checks.
  const edits = rng.below(4) === 0 ? 2 : 1;
  for (let i = 0; i < edits; i++) {
    const containers: (Record<string, unknown> | unknown[])[] = [];
    const walk = (v: unknown) => {
      if (v !== null && typeof v === 'object') {
        containers.push(v as Record<string, unknown> | unknown[]);
        Object.values(v).forEach(walk);
      }
    };
    walk(doc);
    const target = rng.pick(containers);
    const keys = Object.keys(target);
    if (keys.length === 0) {
      continue;
    }
    const key = rng.pick(keys);
    if (!Array.isArray(target) && rng.below(6) === 0) {
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- deleting a random field is the edit
      delete target[key];
    } else {
      // A copy: one shared array inserted twice could end up inside itself.
      (target as Record<string, unknown>)[key] = structuredClone(rng.pick(HOSTILE_VALUES));
    }
  }
  return Buffer.from(JSON.stringify(doc));
}
