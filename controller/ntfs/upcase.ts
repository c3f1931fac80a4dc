/**
 * NTFS compares names case-insensitively through the volume's own $UpCase table (65,536 UTF-16
 * code units), so lookups agree with Windows even where Unicode case rules changed over time.
 */
export class UpcaseTable {
  private constructor(private readonly table: Uint16Array) {}

  static fromBuffer(data: Buffer): UpcaseTable {
    const table = new Uint16Array(65536);
    for (let i = 0; i < 65536; i++) {
      table[i] = i * 2 + 2 <= data.length ? data.readUInt16LE(i * 2) : i;
    }
    return new UpcaseTable(table);
  }

  /** Orders names as the $I30 index does (COLLATION_FILE_NAME): by upcased UTF-16 code units. */
  compare(a: string, b: string): number {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      const d = (this.table[a.charCodeAt(i)] ?? 0) - (this.table[b.charCodeAt(i)] ?? 0);
      if (d !== 0) {
        return d;
      }
    }
    return a.length - b.length;
  }
}
