import { createHash } from 'node:crypto';

const maxName = 63;

/** Compact UTC stamp of a schedule slot, as it appears in recovery point names: 20261121-0400. */
export function slotStamp(slot: Date): string {
  const iso = slot.toISOString();
  return `${iso.slice(0, 10).replaceAll('-', '')}-${iso.slice(11, 16).replace(':', '')}`;
}

/**
 * A DNS-1123 label made from a Hyper-V VM name, which may hold spaces, capitals, underscores and
 * any Unicode. Names that had to change carry a short hash of the original so two VMs whose
 * names differ only in those characters never collide.
 */
export function dnsLabelFor(vmName: string, room = maxName): string {
  const cleaned = vmName
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .replace(/-{2,}/g, '-');
  if (cleaned === vmName && cleaned.length <= room) {
    return cleaned;
  }
  const hash = createHash('sha256').update(vmName).digest('hex').slice(0, 6);
  const stem = cleaned.slice(0, room - hash.length - 1).replace(/-+$/, '');
  return stem ? `${stem}-${hash}` : `vm-${hash}`;
}

/**
 * The recovery point of a VM for one schedule slot. Deterministic, so a restarted or newly elected
 * controller that creates it again gets AlreadyExists instead of a duplicate.
 */
export function scheduledPointName(vmName: string, slot: Date, attempt = 0): string {
  const suffix = `-${slotStamp(slot)}${attempt > 0 ? `-r${attempt}` : ''}`;
  return `${dnsLabelFor(vmName, maxName - suffix.length)}${suffix}`;
}
