import { CorruptVolumeError } from './errors.js';

/**
 * Applies a multi-sector record's update sequence in place: the last two bytes of every stride were
 * replaced on disk by the sequence number, and the originals are kept in the array. A stride whose
 * tail does not hold the sequence number was torn by an interrupted write.
 */
export function applyFixups(record: Buffer, what: string): void {
  const usaOffset = record.readUInt16LE(4);
  const usaCount = record.readUInt16LE(6);
  const strides = usaCount - 1;
  if (
    strides < 1 ||
    record.length % strides !== 0 ||
    usaOffset + usaCount * 2 > record.length ||
    usaOffset < 8
  ) {
    throw new CorruptVolumeError(
      `${what}: update sequence array (${usaCount} entries at ${usaOffset}) does not fit a ${record.length}-byte record`,
    );
  }
  const stride = record.length / strides;
  const usn = record.readUInt16LE(usaOffset);
  for (let i = 0; i < strides; i++) {
    const tail = (i + 1) * stride - 2;
    if (record.readUInt16LE(tail) !== usn) {
      throw new CorruptVolumeError(`${what}: fixup mismatch in sector ${i} (torn or damaged record)`);
    }
    record.writeUInt16LE(record.readUInt16LE(usaOffset + 2 + i * 2), tail);
  }
}
