import type { ByteSource } from '../common/byte-source.js';
import { CorruptVolumeError } from './errors.js';
import { decompressLznt1 } from './lznt1.js';
import { AttributeFlags, type Attribute, type NonResidentAttribute } from './mft-record.js';
import type { Run } from './runlist.js';

/** The runs that cover clusters [vcn, vcn + count), clipped to that range. Gaps in the runlist are corruption. */
function runsCovering(runs: readonly Run[], vcn: number, count: number): Run[] {
  const result: Run[] = [];
  let lo = 0;
  let hi = runs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((runs[mid]?.vcn ?? 0) <= vcn) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  let next = vcn;
  const end = vcn + count;
  for (let i = lo; i < runs.length && next < end; i++) {
    const run = runs[i];
    if (!run || run.vcn + run.length <= next) {
      continue;
    }
    if (run.vcn > next) {
      break;
    }
    const skip = next - run.vcn;
    const length = Math.min(run.vcn + run.length, end) - next;
    result.push({ vcn: next, length, lcn: run.lcn === null ? null : run.lcn + skip });
    next += length;
  }
  if (next < end) {
    throw new CorruptVolumeError(`runlist does not map cluster ${next} of the attribute`);
  }
  return result;
}

function checkRange(size: number, offset: number, length: number): void {
  if (offset < 0 || length < 0 || offset + length > size) {
    throw new RangeError(`read ${offset}+${length} lies outside a stream of ${size} bytes`);
  }
}

function residentStream(value: Buffer): ByteSource {
  return {
    size: value.length,
    read(offset, length) {
      checkRange(value.length, offset, length);
      return Promise.resolve(Buffer.from(value.subarray(offset, offset + length)));
    },
  };
}

/** Plain (possibly sparse) data: each run maps straight onto volume clusters. */
class RunStream implements ByteSource {
  readonly size: number;

  constructor(
    private readonly volume: ByteSource,
    private readonly clusterSize: number,
    private readonly attr: NonResidentAttribute,
  ) {
    this.size = attr.dataSize;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this.size, offset, length);
    const out = Buffer.alloc(length);
    // Bytes past the initialized size were never written and read as zeros.
    const end = Math.min(offset + length, this.attr.initializedSize);
    if (end <= offset) {
      return out;
    }
    const cs = this.clusterSize;
    const firstVcn = Math.floor(offset / cs);
    const runs = runsCovering(this.attr.runs, firstVcn, Math.ceil(end / cs) - firstVcn);
    await Promise.all(
      runs.map(async (run) => {
        if (run.lcn === null) {
          return;
        }
        const from = Math.max(offset, run.vcn * cs);
        const to = Math.min(end, (run.vcn + run.length) * cs);
        const bytes = await this.volume.read(run.lcn * cs + (from - run.vcn * cs), to - from);
        bytes.copy(out, from - offset);
      }),
    );
    return out;
  }
}

/**
 * LZNT1-compressed data, in compression units of 2^n clusters (16 in practice): a unit with every
 * cluster allocated is stored raw, one with some clusters is compressed, one with none is zeros.
 */
class CompressedStream implements ByteSource {
  readonly size: number;
  private readonly unitClusters: number;
  private cached: { unit: number; data: Buffer } | null = null;

  constructor(
    private readonly volume: ByteSource,
    private readonly clusterSize: number,
    private readonly attr: NonResidentAttribute,
  ) {
    this.size = attr.dataSize;
    this.unitClusters = 2 ** attr.compressionUnit;
  }

  private async readUnit(unit: number): Promise<Buffer> {
    if (this.cached?.unit === unit) {
      return this.cached.data;
    }
    const unitBytes = this.unitClusters * this.clusterSize;
    const runs = runsCovering(this.attr.runs, unit * this.unitClusters, this.unitClusters);
    const stored = runs.filter((r): r is Run & { lcn: number } => r.lcn !== null);
    const storedClusters = stored.reduce((n, r) => n + r.length, 0);
    const parts = await Promise.all(
      stored.map((r) => this.volume.read(r.lcn * this.clusterSize, r.length * this.clusterSize)),
    );
    let data: Buffer;
    if (storedClusters === 0) {
      data = Buffer.alloc(unitBytes);
    } else if (storedClusters === this.unitClusters) {
      data = Buffer.concat(parts);
    } else {
      data = decompressLznt1(Buffer.concat(parts), unitBytes);
    }
    this.cached = { unit, data };
    return data;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this.size, offset, length);
    const out = Buffer.alloc(length);
    const unitBytes = this.unitClusters * this.clusterSize;
    const end = Math.min(offset + length, this.attr.initializedSize);
    for (let pos = offset; pos < end;) {
      const unit = Math.floor(pos / unitBytes);
      const data = await this.readUnit(unit);
      const within = pos - unit * unitBytes;
      const n = Math.min(unitBytes - within, end - pos);
      data.copy(out, pos - offset, within, within + n);
      pos += n;
    }
    return out;
  }
}

/** A byte view of an attribute's value, whatever its storage. The attribute must not be encrypted. */
export function openAttributeStream(volume: ByteSource, clusterSize: number, attr: Attribute): ByteSource {
  if (attr.resident) {
    return residentStream(attr.value);
  }
  if ((attr.flags & AttributeFlags.compressed) !== 0 && attr.compressionUnit > 0) {
    if (clusterSize > 4096) {
      throw new CorruptVolumeError(
        `compressed attribute on a volume with ${clusterSize}-byte clusters (NTFS allows ≤ 4 KiB)`,
      );
    }
    return new CompressedStream(volume, clusterSize, attr);
  }
  return new RunStream(volume, clusterSize, attr);
}
