import { CATALOG_VERSION, type Catalog, type ChunkSpan } from './catalog.js';

/**
 * One JSON header line, then one compact JSON array per entry: far smaller than objects, and the
 * repository compresses it further. Parsing needs no schema library.
 */
export function encodeCatalog(catalog: Catalog): Buffer {
  const { entries, ...header } = catalog;
  const lines = [
    JSON.stringify(header),
    ...entries.map((e) => JSON.stringify([e.path, e.isDirectory ? 1 : 0, e.size, e.modified, e.chunks])),
  ];
  return Buffer.from(`${lines.join('\n')}\n`);
}

export class CatalogFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CatalogFormatError';
  }
}

function isEntryRow(row: unknown): row is [string, number, number, number, ChunkSpan[]] {
  return (
    Array.isArray(row) &&
    row.length === 5 &&
    typeof row[0] === 'string' &&
    typeof row[2] === 'number' &&
    Array.isArray(row[4])
  );
}

export function decodeCatalog(data: Buffer, what: string): Catalog {
  const [first, ...rows] = data
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '');
  const header = JSON.parse(first ?? '{}') as Partial<Catalog>;
  if (typeof header.version !== 'number' || header.version > CATALOG_VERSION) {
    throw new CatalogFormatError(
      `${what} has catalog version ${String(header.version)}, newer than this Shadowkeep reads (${CATALOG_VERSION})`,
    );
  }
  const entries = rows.map((line, i) => {
    const row: unknown = JSON.parse(line);
    if (!isEntryRow(row)) {
      throw new CatalogFormatError(`${what}: entry ${i + 1} is malformed`);
    }
    return { path: row[0], isDirectory: row[1] === 1, size: row[2], modified: row[3], chunks: row[4] };
  });
  return {
    version: header.version,
    partition: header.partition ?? null,
    chunkSize: header.chunkSize ?? 0,
    unreadableRecords: header.unreadableRecords ?? 0,
    entries,
  };
}
