/**
 * CRC-32C (Castagnoli), the checksum VHDX puts on its headers, region tables and log entries.
 * Node's zlib.crc32 is the IEEE polynomial, so VHDX needs its own; the inputs are small (≤64 KiB).
 */
const table = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) {
      c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    }
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc = (table[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** CRC-32C of `data` with the 4-byte checksum field at `fieldOffset` taken as zero, as VHDX defines it. */
export function crc32cWithZeroedField(data: Uint8Array, fieldOffset: number): number {
  const copy = Buffer.from(data);
  copy.writeUInt32LE(0, fieldOffset);
  return crc32c(copy);
}
