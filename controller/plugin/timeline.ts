/**
 * `kubectl shadowkeep timeline <vm>`: a VM's recovery points, oldest first, with what each holds
 * (consistency, method, size, data uploaded), its offsite copies and its verification state.
 */
import {
  formatBytes,
  labels,
  toLabelValue,
  vmIdOf,
  type HyperVVirtualMachine,
  type RecoveryPoint,
} from '../api/index.js';
import { ExitCode, UserError } from '../cli/command.js';
import { connectPlugin } from './connect.js';
import { commonUsage, failureText, renderTable, shortTime, type Palette } from './output.js';
import { oneName, pluginVerb, writeResult } from './verb.js';

export interface TimelineEntry {
  name: string;
  /** The point in time the data represents; the creation time while it has none yet. */
  time?: string;
  phase: string;
  consistency?: string;
  method?: string;
  parent?: string;
  size?: string;
  uploaded?: string;
  node?: string;
  /** One per offsite repository: `repository: phase`. */
  offsite: { repository: string; phase: string; immutableUntil?: string }[];
  verification?: { result: string; level: string; time: string; message?: string };
  failure?: string;
}

/** Whether a recovery point is of the VM named `vmName`, whose inventory IDs are `ids`. */
export function isPointOf(rp: RecoveryPoint, vmName: string, ids: ReadonlySet<string>): boolean {
  const id = vmIdOf(rp) ?? rp.status?.vmId?.toLowerCase();
  if (id !== undefined && ids.size > 0) {
    return ids.has(id);
  }
  return (
    rp.spec.vm.name?.toLowerCase() === vmName.toLowerCase() ||
    rp.metadata.labels?.[labels.vm] === toLabelValue(vmName)
  );
}

/** The IDs of the inventory's VMs named (or with the ID) `nameOrId`. */
export function idsOf(nameOrId: string, vms: readonly HyperVVirtualMachine[]): Set<string> {
  const wanted = nameOrId.toLowerCase();
  return new Set(
    vms
      .filter((vm) => vm.metadata.name === wanted || vm.status?.vmName?.toLowerCase() === wanted)
      .map((vm) => vm.spec.id.toLowerCase()),
  );
}

function sizeOf(rp: RecoveryPoint): string | undefined {
  if (rp.status?.size) {
    return rp.status.size;
  }
  const allocated = (rp.status?.disks ?? []).reduce((sum, d) => sum + (d.allocatedBytes ?? 0), 0);
  return allocated > 0 ? formatBytes(allocated) : undefined;
}

/** The VM's recovery points as timeline entries, oldest first. */
export function timeline(points: readonly RecoveryPoint[]): TimelineEntry[] {
  const timeOf = (rp: RecoveryPoint): string | undefined =>
    rp.status?.pointInTime ?? rp.metadata.creationTimestamp;
  return [...points]
    .sort(
      (a, b) =>
        new Date(timeOf(a) ?? 0).getTime() - new Date(timeOf(b) ?? 0).getTime() ||
        a.metadata.name.localeCompare(b.metadata.name),
    )
    .map((rp): TimelineEntry => {
      const s = rp.status ?? {};
      const time = timeOf(rp);
      const size = sizeOf(rp);
      return {
        name: rp.metadata.name,
        ...(time ? { time } : {}),
        phase: s.phase ?? 'Pending',
        ...(s.consistency ? { consistency: s.consistency } : {}),
        ...(s.method ? { method: s.method } : {}),
        ...(s.parent ? { parent: s.parent } : {}),
        ...(size ? { size } : {}),
        ...(s.uploaded ? { uploaded: s.uploaded } : {}),
        ...(s.nodeName ? { node: s.nodeName } : {}),
        offsite: (s.copies ?? []).map((c) => ({
          repository: c.repository,
          phase: c.phase,
          ...(c.immutableUntil ? { immutableUntil: c.immutableUntil } : {}),
        })),
        ...(s.verification
          ? {
              verification: {
                result: s.verification.result,
                level: s.verification.level,
                time: s.verification.time,
                ...(s.verification.message ? { message: s.verification.message } : {}),
              },
            }
          : {}),
        ...(s.failure ? { failure: failureText(s.failure) } : {}),
      };
    });
}

/** The timeline as a table, failures spelled out underneath. */
export function formatTimeline(vmName: string, entries: readonly TimelineEntry[], colours: Palette): string {
  if (entries.length === 0) {
    return `No recovery points of ${vmName} in this namespace yet: take one with kubectl shadowkeep backup ${vmName}\n`;
  }
  const phase = (p: string): string =>
    p === 'Completed' ? colours.green(p) : p === 'Failed' ? colours.red(p) : colours.yellow(p);
  const copies = (e: TimelineEntry): string =>
    e.offsite.length === 0
      ? '-'
      : e.offsite
          .map((c) => `${c.repository}:${c.phase === 'Failed' ? colours.red(c.phase) : c.phase}`)
          .join(',');
  const verified = (e: TimelineEntry): string => {
    if (!e.verification) {
      return '-';
    }
    const text = `${e.verification.result} (${e.verification.level})`;
    return e.verification.result === 'Passed' ? colours.green(text) : colours.red(text);
  };
  const table = renderTable(
    ['TIME', 'RECOVERY-POINT', 'PHASE', 'CONSISTENCY', 'METHOD', 'SIZE', 'UPLOADED', 'OFFSITE', 'VERIFIED'],
    entries.map((e) => [
      shortTime(e.time),
      e.name,
      phase(e.phase),
      e.consistency === 'CrashConsistent' ? colours.yellow(e.consistency) : (e.consistency ?? '-'),
      e.method ?? '-',
      e.size ?? '-',
      e.uploaded ?? '-',
      copies(e),
      verified(e),
    ]),
  );
  const failures = entries
    .filter((e) => e.failure)
    .map((e) => `${e.name}: ${e.failure ?? ''}\n`)
    .join('');
  return failures ? `${table}\n${failures}` : table;
}

const usage =
  'Usage: kubectl shadowkeep timeline <vm> [options]\n' +
  "A VM's recovery points (by VM name or Hyper-V ID), oldest first: time, consistency, method,\n" +
  'size, data uploaded, offsite copies and verification state.\n' +
  commonUsage;

export const timelineCommand = pluginVerb({
  name: 'timeline',
  summary: 'recovery points of a VM with consistency, sizes, offsite and verification',
  usage,
  options: {},
  positionals: true,
  async run({ positionals, format, namespace }) {
    const vm = oneName(positionals, 'VM', usage);
    const { clients } = connectPlugin();
    const [{ items: vms }, { items: points }] = await Promise.all([
      clients.vms.list(),
      clients.recoveryPoints.list(namespace),
    ]);
    const ids = idsOf(vm, vms);
    const mine = points.filter((rp) => isPointOf(rp, vm, ids));
    if (ids.size === 0 && mine.length === 0) {
      throw new UserError(
        `no VM named '${vm}' in the inventory and no recovery points of it in ${namespace}`,
      );
    }
    const entries = timeline(mine);
    writeResult(format, { vm, namespace, recoveryPoints: entries }, (colours) =>
      formatTimeline(vm, entries, colours),
    );
    return ExitCode.ok;
  },
});
