import { hostname } from 'node:os';
import type { Server } from 'node:http';
import { KubeConfig } from '../kube/kubeconfig.js';
import { labels, type RecoveryPoint } from '../api/index.js';
import { createLogger, type Logger } from '../common/log.js';
import { EventRecorder } from '../kube/events.js';
import { keyOf, splitKey } from '../kube/objects.js';
import { KubeRest } from '../kube/rest.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { Controller } from '../runtime/controller.js';
import { serveHealthAndMetrics } from '../runtime/http.js';
import { LeaderElector } from '../runtime/leader-election.js';
import { RuntimeMetrics } from '../runtime/metrics.js';
import { ProtectionReconciler } from '../protection/reconcile.js';
import { RecoveryPointReconciler } from '../recoverypoint/reconcile.js';
import { RepositoryRecoveryPointData } from '../recoverypoint/data.js';
import { RepositoryReconciler } from '../repositories/reconcile.js';
import { InventoryReconciler } from '../inventory/reconcile.js';
import { RestoreReconciler } from '../restore/reconcile.js';
import { CopyReconciler } from '../copy/reconcile.js';
import { openRepository } from '../repositories/access.js';
import { VerificationReconciler } from '../verification/reconcile.js';
import { clientsFor, informersFor, type Informers } from './world.js';
import { registerDomainMetrics } from './domain-metrics.js';

/** How long recovery point changes gather before their repository's count is rechecked. */
const repositoryRecountDelayMs = 2000;

/**
 * How long recovery point changes gather before their policy's next pass: a tick changes each of
 * thousands of points several times, and every pass plans all of the policy's VMs and rewrites
 * its status rows, so one pass per window rather than one after another all through the tick.
 */
const policyGatherMs = 3000;

export interface ManagerOptions {
  kubeconfig?: KubeConfig;
  /** The controller's own namespace: policies here may protect any VM; its Lease lives here. */
  namespace: string;
  identity?: string;
  metricsPort?: number;
  metricsHost?: string;
  leaderElection?: boolean;
  clock?: Clock;
  logger?: Logger;
  /** Offsite copies run at once (each a recovery point); default 2. */
  copyWorkers?: number;
  /** Bandwidth limit per offsite copy in bytes per second; unlimited when unset. */
  copyBytesPerSecond?: number;
}

export function loadKubeConfig(): KubeConfig {
  const config = new KubeConfig();
  config.loadFromDefault();
  return config;
}

/**
 * The controller manager: caches of every kind, one controller per reconciler, leader election
 * (only the leader reconciles; a lost lease stops the process), health and metrics endpoints.
 */
export class Manager {
  readonly metrics = new RuntimeMetrics({ processMetrics: true });
  readonly logger: Logger;
  readonly informers: Informers;
  private readonly controllers: {
    protection: Controller;
    points: Controller;
    repositories: Controller;
    inventory: Controller;
    restores: Controller;
    copies: Controller;
    verification: Controller;
  };
  private readonly rest: KubeRest;
  private server: Server | undefined;
  private elector: LeaderElector | undefined;
  private stopped = false;

  constructor(private readonly opts: ManagerOptions) {
    this.logger = opts.logger ?? createLogger('controller');
    const clock = opts.clock ?? systemClock;
    this.rest = new KubeRest(opts.kubeconfig ?? loadKubeConfig());
    const clients = clientsFor(this.rest);
    this.informers = informersFor(clients, this.logger, this.metrics);
    const events = new EventRecorder(this.rest, 'shadowkeep-controller', this.logger);
    const deps = {
      clients,
      informers: this.informers,
      clock,
      logger: this.logger,
      events,
      metrics: this.metrics,
    };
    registerDomainMetrics(this.metrics.registry, this.informers, clock);
    const protectionReconciler = new ProtectionReconciler({ ...deps, controllerNamespace: opts.namespace });
    const protection = new Controller(protectionReconciler, deps);
    // A tick makes a point per VM, each placed with two round trips: more workers than the
    // default two, or placing 2,000 points takes minutes of mostly waiting.
    const points = new Controller(
      new RecoveryPointReconciler({
        ...deps,
        creatingPoints: protectionReconciler.creatingPoints,
        data: new RepositoryRecoveryPointData(this.rest, this.informers),
      }),
      { ...deps, workers: 16 },
    );
    const repositories = new Controller(new RepositoryReconciler({ ...deps, rest: this.rest }), deps);
    const inventory = new Controller(
      new InventoryReconciler({ ...deps, controllerNamespace: opts.namespace }),
      { ...deps, workers: 8 },
    );
    const restores = new Controller(new RestoreReconciler(deps), deps);
    // Copies are long and I/O-bound: their own queue and workers, so they never hold up reconciles.
    const copies = new Controller(
      new CopyReconciler({
        ...deps,
        rest: this.rest,
        ...(opts.copyBytesPerSecond ? { bytesPerSecond: opts.copyBytesPerSecond } : {}),
      }),
      { ...deps, workers: opts.copyWorkers ?? 2 },
    );
    // One worker: a verification reads a whole recovery point back; two at once halve each other's speed.
    const verification = new Controller(
      new VerificationReconciler({ ...deps, openRepository: (repo) => openRepository(this.rest, repo) }),
      { ...deps, workers: 1 },
    );
    this.controllers = { protection, points, repositories, inventory, restores, copies, verification };
    this.wire();
  }

  /** Which keys each change wakes: every reconciler reads the world afresh, so keys are all it needs. */
  private wire(): void {
    const { informers } = this;
    const { protection, points, repositories, inventory, restores, copies, verification } = this.controllers;
    const pendingRestores = (namespace: string | undefined): void => {
      informers.restores
        .list(
          (r) =>
            r.metadata.namespace === namespace && !['Completed', 'Failed'].includes(r.status?.phase ?? ''),
        )
        .forEach((r) => {
          restores.enqueue(keyOf(r.metadata));
        });
    };
    const allVMs = (): void => {
      informers.vms.list().forEach((vm) => {
        inventory.enqueue(keyOf(vm.metadata));
      });
    };
    const allPolicies = (): void => {
      informers.protections.list().forEach((p) => {
        protection.enqueue(keyOf(p.metadata));
      });
    };
    // Points still waiting get another look when a slot may have opened or a host changed: one
    // scan per burst of events, not one per event (the first list of 50,000 completed points is
    // 50,000 events, and a scan of every point for each would not finish).
    let pendingScanQueued = false;
    const pendingPoints = (): void => {
      if (pendingScanQueued) {
        return;
      }
      pendingScanQueued = true;
      setImmediate(() => {
        pendingScanQueued = false;
        informers.recoveryPoints
          .list((rp) => !['Completed', 'Failed'].includes(rp.status?.phase ?? ''))
          .forEach((rp) => {
            points.enqueue(keyOf(rp.metadata));
          });
      });
    };
    const policyGenerations = new Map<string, number | undefined>();
    informers.protections.onChange((key, policy) => {
      protection.enqueue(key);
      // VMs and points read a policy's spec, never its status: the policy's own status writes
      // (dozens during a tick) would otherwise queue every VM and every point each time.
      const generation = policy?.metadata.generation;
      if (policy && policyGenerations.has(key) && policyGenerations.get(key) === generation) {
        return;
      }
      if (policy) {
        policyGenerations.set(key, generation);
      } else {
        policyGenerations.delete(key);
      }
      allVMs();
      // A new offsite target or verification schedule applies to every point the policy already has.
      if (!policy) {
        return;
      }
      informers.recoveryPoints
        .withLabel(labels.protection, policy.metadata.name)
        .filter((rp) => rp.metadata.namespace === policy.metadata.namespace)
        .forEach((rp) => {
          copies.enqueue(keyOf(rp.metadata));
          verification.enqueue(keyOf(rp.metadata));
        });
    });
    // A repository's status counts its completed points; recounting after every point of a tick
    // would rewrite that status thousands of times, so changes within this window make one pass.
    const recountRepositories = (namespace: string | undefined, rp: RecoveryPoint | undefined): void => {
      const repository = rp && (rp.status?.repository ?? rp.spec.repository);
      informers.repositories
        .list(
          (r) =>
            r.metadata.namespace === namespace &&
            (repository === undefined || r.metadata.name === repository),
        )
        .forEach((r) => {
          repositories.enqueueAfter(keyOf(r.metadata), repositoryRecountDelayMs);
        });
    };
    informers.recoveryPoints.onChange((key, rp) => {
      points.enqueue(key);
      if (!rp || rp.status?.phase === 'Completed' || rp.metadata.deletionTimestamp) {
        recountRepositories(splitKey(key).namespace, rp);
      }
      verification.enqueue(key);
      // The inventory shows only the newest completed point: other phases cannot change it.
      const vmId = rp?.metadata.labels?.[labels.vmId];
      if (vmId && (rp.status?.phase === 'Completed' || rp.metadata.deletionTimestamp)) {
        inventory.enqueue(vmId);
      }
      const policy = rp?.metadata.labels?.[labels.protection];
      const namespace = rp?.metadata.namespace;
      if (policy && namespace) {
        protection.enqueueAfter(`${namespace}/${policy}`, policyGatherMs);
      }
      pendingRestores(namespace);
      if (rp?.status?.phase === 'Completed') {
        copies.enqueue(key);
        // Offsite retention and which point is due for verification depend on a VM's other points.
        if (vmId) {
          informers.recoveryPoints
            .withLabel(labels.vmId, vmId)
            .filter((sibling) => sibling.metadata.namespace === namespace)
            .forEach((sibling) => {
              copies.enqueue(keyOf(sibling.metadata));
              verification.enqueue(keyOf(sibling.metadata));
            });
        }
      }
      if (!rp || ['Completed', 'Failed'].includes(rp.status?.phase ?? '')) {
        // A finished backup frees a slot for points waiting on the same host or volume.
        pendingPoints();
      }
    });
    informers.vms.onChange((key) => {
      inventory.enqueue(key);
      allPolicies();
      pendingPoints();
    });
    informers.hosts.onChange(() => {
      pendingPoints();
    });
    informers.restores.onChange((key, restore) => {
      restores.enqueue(key);
      allPolicies();
      if (restore?.spec.target.type === 'BootTest') {
        verification.enqueue(`${restore.metadata.namespace ?? ''}/${restore.spec.recoveryPoint}`);
      }
    });
    informers.repositories.onChange((key, repo) => {
      repositories.enqueue(key);
      informers.protections
        .list((p) => p.metadata.namespace === repo?.metadata.namespace)
        .forEach((p) => {
          protection.enqueue(keyOf(p.metadata));
        });
    });
  }

  private get allInformers() {
    return Object.values(this.informers);
  }

  async start(): Promise<void> {
    const { opts, logger } = this;
    for (const informer of this.allInformers) {
      informer.start();
    }
    let synced = false;
    void Promise.all(this.allInformers.map((i) => i.synced)).then(() => {
      synced = true;
    });
    if (opts.metricsPort !== undefined) {
      this.server = await serveHealthAndMetrics(opts.metricsPort, opts.metricsHost ?? '0.0.0.0', {
        liveness: [{ name: 'process', check: () => undefined }],
        readiness: [{ name: 'informers', check: () => (synced ? undefined : 'caches not synced yet') }],
        registry: this.metrics.registry,
      });
    }
    await Promise.all(this.allInformers.map((i) => i.synced));
    logger.info('caches synced', { namespace: opts.namespace });

    const runControllers = (): void => {
      this.metrics.leader.set(1);
      for (const c of Object.values(this.controllers)) {
        void c.run();
      }
      // Level-based start: every existing object gets one pass.
      this.resyncAll();
    };
    if (opts.leaderElection === false) {
      runControllers();
      return;
    }
    this.elector = new LeaderElector(this.rest, {
      namespace: opts.namespace,
      name: 'shadowkeep-controller',
      identity: opts.identity ?? `${hostname()}-${process.pid}`,
      logger,
      onStartedLeading: runControllers,
      onStoppedLeading: () => {
        // Another replica may be reconciling now: stop at once rather than risk two writers.
        this.metrics.leader.set(0);
        logger.error('leadership lost; exiting');
        process.exit(1);
      },
    });
    void this.elector.run();
  }

  /** Queues every object for a fresh pass, as after a restart (used when the clock jumps). */
  resyncAll(): void {
    const { protection, points, repositories, inventory, restores, copies, verification } = this.controllers;
    this.informers.restores.list().forEach((r) => {
      restores.enqueue(keyOf(r.metadata));
    });
    this.informers.vms.list().forEach((vm) => {
      inventory.enqueue(keyOf(vm.metadata));
    });
    this.informers.protections.list().forEach((p) => {
      protection.enqueue(keyOf(p.metadata));
    });
    this.informers.recoveryPoints.list().forEach((p) => {
      points.enqueue(keyOf(p.metadata));
      copies.enqueue(keyOf(p.metadata));
      verification.enqueue(keyOf(p.metadata));
    });
    this.informers.repositories.list().forEach((p) => {
      repositories.enqueue(keyOf(p.metadata));
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) {
      return;
    }
    this.stopped = true;
    for (const c of Object.values(this.controllers)) {
      c.stop();
    }
    await this.elector?.release();
    await Promise.all(this.allInformers.map((i) => i.stop()));
    await new Promise<void>((resolve) => {
      if (this.server) {
        this.server.close(() => {
          resolve();
        });
      } else {
        resolve();
      }
    });
  }
}
