/** Virtual disk readers: the one entry point others use. */
export { openVirtualDisk } from './open.js';
export type { VirtualDisk, DiskFormat } from './virtual-disk.js';
export type { ByteRange } from './ranges.js';
export { DiskFormatError } from './errors.js';
