import type { ByteSource } from '../common/byte-source.js';
import { openAttributeStream } from './attribute-stream.js';
import { parseBootSector, type NtfsGeometry } from './boot-sector.js';
import { DirectoryIndex, parseIndexBlock, parseIndexRoot } from './directory-index.js';
import { CorruptVolumeError, FileNotFoundError, UnsupportedError } from './errors.js';
import { buildFile, listedRecords, mergeAttributes, type NtfsFile } from './file-record.js';
import { FileAttribute, Namespace, type FileName } from './file-name.js';
import { MftReader } from './mft-reader.js';
import {
  AttributeFlags,
  AttributeType,
  parseMftRecord,
  type Attribute,
  type FileReference,
  type MftRecord,
} from './mft-record.js';
import { describeReparsePoint } from './reparse-point.js';
import { UpcaseTable } from './upcase.js';

const Records = { mft: 0, root: 5, upcase: 10 } as const;
/** Records below this number are NTFS's own metadata files ($MFT, $Bitmap, $Extend, ...). */
const FIRST_USER_RECORD = 16;

export interface DirectoryEntry {
  name: string;
  reference: FileReference;
}

export interface StreamInfo {
  /** Empty for the unnamed (main) stream; otherwise the alternate data stream's name. */
  name: string;
  size: number;
}

/** Splits `/a/b`, `a\b` or `/` into components; `.` and `..` are not NTFS names and are refused. */
export function splitPath(path: string): string[] {
  const parts = path.split(/[\\/]+/).filter((p) => p !== '');
  if (parts.some((p) => p === '.' || p === '..')) {
    throw new FileNotFoundError(path);
  }
  return parts;
}

/** A read-only NTFS volume: resolve paths, list directories, read streams. */
export class NtfsVolume {
  private constructor(
    private readonly source: ByteSource,
    readonly geometry: NtfsGeometry,
    private readonly mft: MftReader,
    private readonly upcase: UpcaseTable,
  ) {}

  static async open(source: ByteSource): Promise<NtfsVolume> {
    if (source.size < 512) {
      throw new CorruptVolumeError(`volume of ${source.size} bytes is too small for NTFS`);
    }
    const geometry = parseBootSector(await source.read(0, 512), source.size);
    const cs = geometry.clusterSize;
    const mftStart = geometry.mftLcn * cs;
    if (mftStart + geometry.mftRecordSize > source.size) {
      throw new CorruptVolumeError(`$MFT at byte ${mftStart} lies outside the volume`);
    }
    // Record 0 describes where the rest of the MFT lives, so it is read directly from the boot sector's LCN.
    const record0 = parseMftRecord(
      await source.read(mftStart, geometry.mftRecordSize),
      Records.mft,
      geometry.totalClusters,
    );
    const bootstrap = record0.attributes.find((a) => a.type === AttributeType.data && a.name === '');
    if (!bootstrap) {
      throw new CorruptVolumeError('$MFT has no $DATA attribute');
    }
    const bootstrapMft = new MftReader(
      openAttributeStream(source, cs, bootstrap),
      geometry.mftRecordSize,
      geometry.totalClusters,
    );
    // A fragmented MFT continues its runlist in extension records, which its first run holds.
    const extensions = await NtfsVolume.extensionRecords(record0, bootstrapMft, source, cs);
    const data = mergeAttributes([...record0.attributes, ...extensions.flatMap((r) => r.attributes)]).find(
      (a) => a.type === AttributeType.data && a.name === '',
    );
    const mft = new MftReader(
      openAttributeStream(source, cs, data ?? bootstrap),
      geometry.mftRecordSize,
      geometry.totalClusters,
    );
    // $UpCase is an ordinary file: read it through a volume that needs no name comparisons yet.
    const partial = new NtfsVolume(source, geometry, mft, UpcaseTable.fromBuffer(Buffer.alloc(0)));
    const upcaseFile = await partial.readFile(Records.upcase);
    const upcaseStream = partial.openStream(upcaseFile);
    const upcase = UpcaseTable.fromBuffer(await upcaseStream.read(0, Math.min(upcaseStream.size, 131072)));
    return new NtfsVolume(source, geometry, mft, upcase);
  }

  private static async extensionRecords(
    base: MftRecord,
    mft: MftReader,
    source: ByteSource,
    clusterSize: number,
  ): Promise<MftRecord[]> {
    const list = base.attributes.find((a) => a.type === AttributeType.attributeList);
    if (!list) {
      return [];
    }
    const numbers = listedRecords(await attributeValue(source, clusterSize, list), base.number);
    const records = await Promise.all(numbers.map((n) => NtfsVolume.readRecord(mft, n)));
    for (const record of records) {
      if (record.baseRecord?.record !== base.number) {
        throw new CorruptVolumeError(
          `MFT record ${record.number} is listed as an extension of ${base.number} but does not point back to it`,
        );
      }
    }
    return records;
  }

  private static async readRecord(mft: MftReader, number: number): Promise<MftRecord> {
    if (number >= mft.recordCount) {
      throw new CorruptVolumeError(
        `reference to MFT record ${number}, past the MFT's ${mft.recordCount} records`,
      );
    }
    return mft.read(number);
  }

  get recordCount(): number {
    return this.mft.recordCount;
  }

  /** Reads a file by record number, or by reference (then its sequence number must still match). */
  async readFile(ref: number | FileReference): Promise<NtfsFile> {
    const number = typeof ref === 'number' ? ref : ref.record;
    const base = await NtfsVolume.readRecord(this.mft, number);
    if (!base.inUse || base.baseRecord !== null) {
      throw new CorruptVolumeError(
        `MFT record ${number} is ${base.inUse ? 'an extension record' : 'not in use'}`,
      );
    }
    if (typeof ref !== 'number' && ref.sequence !== 0 && ref.sequence !== base.sequence) {
      throw new CorruptVolumeError(
        `stale reference to MFT record ${number}: sequence ${ref.sequence}, record has ${base.sequence}`,
      );
    }
    return this.assemble(base);
  }

  /** The file a base record describes, or null for free records and extension records (catalog scans). */
  async readFileIfBase(number: number): Promise<NtfsFile | null> {
    const base = await this.mft.read(number);
    return base.inUse && base.baseRecord === null ? this.assemble(base) : null;
  }

  private async assemble(base: MftRecord): Promise<NtfsFile> {
    const extensions = await NtfsVolume.extensionRecords(
      base,
      this.mft,
      this.source,
      this.geometry.clusterSize,
    );
    return buildFile(base, mergeAttributes([...base.attributes, ...extensions.flatMap((r) => r.attributes)]));
  }

  streams(file: NtfsFile): StreamInfo[] {
    return file.attributes
      .filter((a) => a.type === AttributeType.data)
      .map((a) => ({ name: a.name, size: a.resident ? a.value.length : a.dataSize }));
  }

  /** The bytes of a file's main stream, or of the named alternate data stream. */
  openStream(file: NtfsFile, streamName = ''): ByteSource {
    const attr = file.attributes.find((a) => a.type === AttributeType.data && a.name === streamName);
    if (file.reparsePoint && streamName === '') {
      throw new UnsupportedError(
        `${describe(file)} is ${describeReparsePoint(file.reparsePoint)}; its content is not read`,
      );
    }
    if (!attr) {
      throw new FileNotFoundError(
        `${describe(file)}${streamName === '' ? ' (no data stream)' : `:${streamName}`}`,
      );
    }
    if (
      (attr.flags & AttributeFlags.encrypted) !== 0 ||
      (file.info.fileAttributes & FileAttribute.encrypted) !== 0
    ) {
      throw new UnsupportedError(
        `${describe(file)} is EFS-encrypted; its data cannot be read without the user's key`,
      );
    }
    return openAttributeStream(this.source, this.geometry.clusterSize, attr);
  }

  private directoryIndex(dir: NtfsFile): DirectoryIndex {
    const where = `directory ${describe(dir)}`;
    const rootAttr = dir.attributes.find((a) => a.type === AttributeType.indexRoot && a.name === '$I30');
    if (!dir.isDirectory || !rootAttr?.resident) {
      throw new CorruptVolumeError(`${where} has no $I30 index root`);
    }
    const root = parseIndexRoot(rootAttr.value, where);
    const allocation = dir.attributes.find(
      (a) => a.type === AttributeType.indexAllocation && a.name === '$I30',
    );
    const stream = allocation
      ? openAttributeStream(this.source, this.geometry.clusterSize, allocation)
      : null;
    // Index VCNs count clusters, or 512-byte units when index blocks are smaller than a cluster.
    const vcnUnit = root.blockSize >= this.geometry.clusterSize ? this.geometry.clusterSize : 512;
    return new DirectoryIndex(
      root.entries,
      async (vcn) => {
        const offset = vcn * vcnUnit;
        if (!stream || offset + root.blockSize > stream.size) {
          throw new CorruptVolumeError(`${where}: index block VCN ${vcn} lies outside its $INDEX_ALLOCATION`);
        }
        return parseIndexBlock(await stream.read(offset, root.blockSize), vcn, where);
      },
      where,
    );
  }

  /** A directory's entries, one per name (hard links appear under each name), DOS aliases and metadata files left out. */
  async *listDirectory(dir: NtfsFile): AsyncGenerator<DirectoryEntry> {
    for await (const entry of this.directoryIndex(dir).entries()) {
      if (entry.fileName.namespace === Namespace.dos || entry.reference.record < FIRST_USER_RECORD) {
        continue;
      }
      yield { name: entry.fileName.name, reference: entry.reference };
    }
  }

  async lookup(dir: NtfsFile, name: string): Promise<NtfsFile | null> {
    const [entry] = await this.directoryIndex(dir).find(name, this.upcase);
    return entry ? this.readFile(entry.reference) : null;
  }

  root(): Promise<NtfsFile> {
    return this.readFile(Records.root);
  }

  /** Resolves an absolute path (either separator, case-insensitive as Windows does). */
  async resolve(path: string): Promise<NtfsFile> {
    let file = await this.root();
    for (const part of splitPath(path)) {
      const next = file.isDirectory ? await this.lookup(file, part) : null;
      if (!next) {
        throw new FileNotFoundError(path);
      }
      file = next;
    }
    return file;
  }
}

function describe(file: NtfsFile): string {
  const name: FileName | undefined = file.names[0];
  return name ? `"${name.name}" (record ${file.reference.record})` : `record ${file.reference.record}`;
}

/** A whole attribute value, resident or not (attribute lists outgrow their record on busy files). */
async function attributeValue(source: ByteSource, clusterSize: number, attr: Attribute): Promise<Buffer> {
  if (attr.resident) {
    return attr.value;
  }
  const stream = openAttributeStream(source, clusterSize, attr);
  return stream.read(0, stream.size);
}
