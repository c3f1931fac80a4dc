import type { ResourceClient, Selector } from '../kube/client.js';
import { isGone, KubeApiError } from '../kube/rest.js';
import { keyOf, resourcePath, type KubeObject } from '../kube/objects.js';
import { backoffDelay } from './backoff.js';
import { StringTable, trimForCache } from './cache-trim.js';
import { LabelIndex } from './label-index.js';
import type { Logger } from '../common/log.js';
import type { RuntimeMetrics } from './metrics.js';

export type ChangeHandler<T> = (key: string, object: T | undefined) => void;

export interface InformerOptions {
  namespace?: string;
  selector?: Selector;
  /** Full relist period: a safety net for missed events. */
  relistMs?: number;
  /** Restart a watch that has been silent this long (the server sends bookmarks about every minute). */
  watchdogMs?: number;
  logger: Logger;
  metrics?: RuntimeMetrics;
  /** Label keys to look objects up by (withLabel). */
  indexLabels?: readonly string[];
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/**
 * A list-then-watch cache of one kind, supervised: client-node's informer stops for good on most
 * errors, so this one restarts its watch with jittered back-off, relists when the resource version
 * expires and periodically anyway, and restarts a watch that went silent. Handlers get keys only
 * (level-based): they enqueue, the reconciler reads the cache.
 */
export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly strings = new StringTable();
  private readonly index: LabelIndex;
  private readonly handlers: ChangeHandler<T>[] = [];
  private readonly stopping = new AbortController();
  private resolveSynced!: () => void;
  /** Resolves after the first complete list: nothing is ready before it. */
  readonly synced = new Promise<void>((resolve) => (this.resolveSynced = resolve));
  private running: Promise<void> | undefined;

  constructor(
    private readonly client: ResourceClient<T>,
    private readonly opts: InformerOptions,
  ) {
    this.index = new LabelIndex(opts.indexLabels ?? []);
  }

  private get resource(): string {
    return this.client.type.plural;
  }

  onChange(handler: ChangeHandler<T>): void {
    this.handlers.push(handler);
  }

  /** A copy of the cached object: callers may change it freely. */
  get(key: string): T | undefined {
    const object = this.cache.get(key);
    return object === undefined ? undefined : structuredClone(object);
  }

  /**
   * The cached object itself, shared with the cache: treat it as read-only. For lookups on hot
   * paths (a policy with thousands of status rows, a VM per active backup), where get()'s copy
   * would cost more than the reconcile.
   */
  peek(key: string): T | undefined {
    return this.cache.get(key);
  }

  /** Cached objects, shared with the cache: treat them as read-only (clone before changing). */
  list(filter?: (object: T) => boolean): readonly T[] {
    const all = [...this.cache.values()];
    return filter ? all.filter(filter) : all;
  }

  /** Cached objects whose `label` is `value` (an indexLabels key), shared with the cache: read-only. */
  withLabel(label: string, value: string): readonly T[] {
    return this.index.lookup(label, value).flatMap((key) => {
      const object = this.cache.get(key);
      return object ? [object] : [];
    });
  }

  get size(): number {
    return this.cache.size;
  }

  start(): void {
    this.running ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
  }

  private emit(key: string, object: T | undefined): void {
    for (const handler of this.handlers) {
      handler(key, object);
    }
  }

  private put(key: string, object: T): T | undefined {
    const before = this.cache.get(key);
    this.cache.set(key, object);
    this.index.update(key, before, object);
    return before;
  }

  private remove(key: string): void {
    this.index.update(key, this.cache.get(key), undefined);
    this.cache.delete(key);
  }

  private replaceAll(items: T[]): void {
    const seen = new Set<string>();
    for (const item of items) {
      const key = keyOf(item.metadata);
      seen.add(key);
      const before = this.put(key, item);
      if (before?.metadata.resourceVersion !== item.metadata.resourceVersion) {
        this.emit(key, item);
      }
    }
    for (const key of [...this.cache.keys()]) {
      if (!seen.has(key)) {
        this.remove(key);
        this.emit(key, undefined);
      }
    }
  }

  /** A call, not the property: TypeScript would keep `aborted` narrowed across awaits, though stop() can set it any time. */
  private stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  private async run(): Promise<void> {
    const { relistMs = 300_000, watchdogMs = 150_000, logger, metrics } = this.opts;
    let resourceVersion: string | undefined;
    let listedAt = 0;
    let failures = 0;
    const heard = (): void => metrics?.informerLastEvent.set({ resource: this.resource }, Date.now() / 1000);

    while (!this.stopped()) {
      try {
        if (resourceVersion === undefined || Date.now() - listedAt >= relistMs) {
          const listed = await this.client.list(this.opts.namespace, this.opts.selector, (object) =>
            trimForCache(object, this.strings),
          );
          this.replaceAll(listed.items);
          resourceVersion = listed.resourceVersion;
          listedAt = Date.now();
          heard();
          this.resolveSynced();
        }
        const watch = new AbortController();
        const stop = (): void => {
          watch.abort();
        };
        this.stopping.signal.addEventListener('abort', stop);
        let silence = setTimeout(stop, watchdogMs);
        let silent = true;
        try {
          await this.client.rest.watch(
            resourcePath(this.client.type, this.opts.namespace),
            {
              ...this.opts.selector,
              resourceVersion,
              allowWatchBookmarks: true,
              timeoutSeconds: Math.max(1, Math.round((relistMs - (Date.now() - listedAt)) / 1000)),
            },
            (type, object) => {
              clearTimeout(silence);
              silence = setTimeout(stop, watchdogMs);
              silent = false;
              heard();
              resourceVersion = this.apply(type, object) ?? resourceVersion;
            },
            watch.signal,
          );
        } finally {
          clearTimeout(silence);
          this.stopping.signal.removeEventListener('abort', stop);
        }
        if (watch.signal.aborted && !this.stopped()) {
          metrics?.informerRestarts.inc({ resource: this.resource, cause: 'watchdog' });
          logger.warn('watch was silent too long; restarting it', { resource: this.resource, silent });
        }
        failures = 0;
      } catch (err) {
        if (this.stopped()) {
          break;
        }
        if (isGone(err)) {
          metrics?.informerRestarts.inc({ resource: this.resource, cause: 'expired' });
          resourceVersion = undefined;
          continue;
        }
        metrics?.informerRestarts.inc({ resource: this.resource, cause: 'error' });
        const delay = backoffDelay(failures++, { baseMs: 200, maxMs: 30_000, jitter: 0.5 });
        logger.warn('watch failed; restarting', {
          resource: this.resource,
          error: String(err),
          retryInMs: delay,
        });
        await sleep(delay, this.stopping.signal);
      }
    }
  }

  /** Applies one watch event to the cache; returns the resource version it carries. */
  private apply(type: string, raw: unknown): string | undefined {
    if (type === 'ERROR') {
      const status = raw as { code?: number; reason?: string; message?: string };
      throw new KubeApiError(status.code ?? 500, status.reason ?? 'Error', status.message ?? 'watch error');
    }
    const object = raw as T;
    const version = object.metadata.resourceVersion;
    if (type === 'BOOKMARK') {
      return version;
    }
    const typed = trimForCache(
      { ...object, apiVersion: object.apiVersion, kind: object.kind ?? this.client.type.kind },
      this.strings,
    );
    const key = keyOf(object.metadata);
    if (type === 'DELETED') {
      this.remove(key);
      this.emit(key, undefined);
    } else {
      this.put(key, typed);
      this.emit(key, typed);
    }
    return version;
  }
}
