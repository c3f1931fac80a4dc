import { Gauge, type Registry } from 'prom-client';
import { labels, vmIdOf, type RecoveryPoint } from '../api/index.js';
import type { Clock } from '../runtime/clock.js';
import type { Informers } from './world.js';

/**
 * What people alert on, computed from the caches at scrape time: nothing is counted in memory, so
 * a restarted or newly elected controller reports the same figures at once.
 */
export function registerDomainMetrics(registry: Registry, informers: Informers, clock: Clock): void {
  const newestPerVM = (): Map<string, RecoveryPoint> => {
    const newest = new Map<string, RecoveryPoint>();
    for (const rp of informers.recoveryPoints.list(
      (p) => p.status?.phase === 'Completed' && !p.metadata.deletionTimestamp,
    )) {
      const key = `${rp.metadata.namespace ?? ''}/${vmIdOf(rp) ?? ''}`;
      const best = newest.get(key);
      if (!best || (rp.status?.pointInTime ?? '') > (best.status?.pointInTime ?? '')) {
        newest.set(key, rp);
      }
    }
    return newest;
  };
  const vmLabels = (rp: RecoveryPoint) => ({
    namespace: rp.metadata.namespace ?? '',
    policy: rp.metadata.labels?.[labels.protection] ?? '',
    vm: rp.spec.vm.name ?? rp.metadata.labels?.[labels.vm] ?? '',
  });

  new Gauge({
    name: 'shadowkeep_vm_last_success_timestamp_seconds',
    help: 'Point in time of the newest completed recovery point of each VM.',
    labelNames: ['namespace', 'policy', 'vm'],
    registers: [registry],
    collect() {
      this.reset();
      for (const rp of newestPerVM().values()) {
        this.set(vmLabels(rp), new Date(rp.status?.pointInTime ?? 0).getTime() / 1000);
      }
    },
  });

  new Gauge({
    name: 'shadowkeep_vm_rpo_seconds',
    help: 'Age of the newest completed recovery point of each VM: the data lost if the VM died now.',
    labelNames: ['namespace', 'policy', 'vm'],
    registers: [registry],
    collect() {
      this.reset();
      const now = clock.now().getTime();
      for (const rp of newestPerVM().values()) {
        this.set(vmLabels(rp), (now - new Date(rp.status?.pointInTime ?? 0).getTime()) / 1000);
      }
    },
  });

  new Gauge({
    name: 'shadowkeep_recovery_points',
    help: 'Recovery points by phase and achieved consistency.',
    labelNames: ['namespace', 'phase', 'consistency'],
    registers: [registry],
    collect() {
      this.reset();
      for (const rp of informers.recoveryPoints.list()) {
        this.inc({
          namespace: rp.metadata.namespace ?? '',
          phase: rp.status?.phase ?? 'Pending',
          consistency: rp.status?.consistency ?? '',
        });
      }
    },
  });

  new Gauge({
    name: 'shadowkeep_recovery_point_failures',
    help: 'Failed recovery points still kept (the three newest per VM), by reason.',
    labelNames: ['namespace', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const rp of informers.recoveryPoints.list((p) => p.status?.phase === 'Failed')) {
        this.inc({ namespace: rp.metadata.namespace ?? '', reason: rp.status?.failure?.reason ?? 'Unknown' });
      }
    },
  });

  new Gauge({
    name: 'shadowkeep_recovery_point_uploaded_bytes',
    help: 'Bytes the newest completed recovery point of each VM added to its repository.',
    labelNames: ['namespace', 'policy', 'vm'],
    registers: [registry],
    collect() {
      this.reset();
      for (const rp of newestPerVM().values()) {
        this.set(
          vmLabels(rp),
          (rp.status?.disks ?? []).reduce((sum, d) => sum + (d.uploadedBytes ?? 0), 0),
        );
      }
    },
  });

  new Gauge({
    name: 'shadowkeep_vm_verification_failed',
    help: 'Per VM: 1 when its most recent verification (test restore) failed, 0 when it passed.',
    labelNames: ['namespace', 'policy', 'vm'],
    registers: [registry],
    collect() {
      this.reset();
      const newest = new Map<string, RecoveryPoint>();
      for (const rp of informers.recoveryPoints.list((p) => Boolean(p.status?.verification))) {
        const key = `${rp.metadata.namespace ?? ''}/${vmIdOf(rp) ?? ''}`;
        const best = newest.get(key);
        if (!best || (rp.status?.verification?.time ?? '') > (best.status?.verification?.time ?? '')) {
          newest.set(key, rp);
        }
      }
      for (const rp of newest.values()) {
        this.set(vmLabels(rp), rp.status?.verification?.result === 'Failed' ? 1 : 0);
      }
    },
  });

  new Gauge({
    name: 'shadowkeep_host_heartbeat_age_seconds',
    help: 'Time since each host agent last reported.',
    labelNames: ['node'],
    registers: [registry],
    collect() {
      this.reset();
      const now = clock.now().getTime();
      for (const host of informers.hosts.list()) {
        if (host.status?.heartbeatTime) {
          this.set(
            { node: host.metadata.name },
            (now - new Date(host.status.heartbeatTime).getTime()) / 1000,
          );
        }
      }
    },
  });

  new Gauge({
    name: 'shadowkeep_offsite_copies',
    help: 'Offsite copies of recovery points by target repository and phase.',
    labelNames: ['namespace', 'repository', 'phase'],
    registers: [registry],
    collect() {
      this.reset();
      for (const rp of informers.recoveryPoints.list((p) => !p.metadata.deletionTimestamp)) {
        for (const copy of rp.status?.copies ?? []) {
          this.inc({
            namespace: rp.metadata.namespace ?? '',
            repository: copy.repository,
            phase: copy.phase,
          });
        }
      }
    },
  });

  new Gauge({
    name: 'shadowkeep_offsite_copied_bytes',
    help: 'Bytes sent to each offsite repository by the copies still recorded (only data it lacked).',
    labelNames: ['namespace', 'repository'],
    registers: [registry],
    collect() {
      this.reset();
      for (const rp of informers.recoveryPoints.list((p) => !p.metadata.deletionTimestamp)) {
        for (const copy of rp.status?.copies ?? []) {
          if (copy.phase === 'Completed') {
            this.inc(
              { namespace: rp.metadata.namespace ?? '', repository: copy.repository },
              copy.copiedBytes ?? 0,
            );
          }
        }
      }
    },
  });
}
