import {
  labels,
  BackupRepositoryResource,
  HyperVHostResource,
  HyperVVirtualMachineResource,
  RecoveryPointResource,
  VirtualMachineProtectionResource,
  VirtualMachineRestoreResource,
  type BackupRepository,
  type HyperVHost,
  type HyperVVirtualMachine,
  type RecoveryPoint,
  type VirtualMachineProtection,
  type VirtualMachineRestore,
} from '../api/index.js';
import { ResourceClient } from '../kube/client.js';
import type { KubeRest } from '../kube/rest.js';
import { Informer } from '../runtime/informer.js';
import type { Logger } from '../common/log.js';
import type { RuntimeMetrics } from '../runtime/metrics.js';

/** Typed clients for every kind the controller reads or writes. */
export function clientsFor(rest: KubeRest) {
  return {
    protections: new ResourceClient<VirtualMachineProtection>(rest, VirtualMachineProtectionResource),
    recoveryPoints: new ResourceClient<RecoveryPoint>(rest, RecoveryPointResource),
    repositories: new ResourceClient<BackupRepository>(rest, BackupRepositoryResource),
    restores: new ResourceClient<VirtualMachineRestore>(rest, VirtualMachineRestoreResource),
    hosts: new ResourceClient<HyperVHost>(rest, HyperVHostResource),
    vms: new ResourceClient<HyperVVirtualMachine>(rest, HyperVVirtualMachineResource),
  };
}

export type Clients = ReturnType<typeof clientsFor>;

/**
 * The controller's cached view of the world: one supervised informer per kind, across all
 * namespaces. Reconcilers read these caches and write through the clients.
 */
export function informersFor(clients: Clients, logger: Logger, metrics: RuntimeMetrics) {
  const opts = { logger, metrics };
  return {
    protections: new Informer(clients.protections, opts),
    // A VM's and a policy's points are looked up on every completed point: by index, not by scan.
    recoveryPoints: new Informer(clients.recoveryPoints, {
      ...opts,
      indexLabels: [labels.vmId, labels.protection],
    }),
    repositories: new Informer(clients.repositories, opts),
    restores: new Informer(clients.restores, opts),
    hosts: new Informer(clients.hosts, opts),
    vms: new Informer(clients.vms, opts),
  };
}

export type Informers = ReturnType<typeof informersFor>;
