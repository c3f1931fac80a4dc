import type { KubeRest } from './rest.js';
import type { KubeObject } from './objects.js';
import type { Logger } from '../common/log.js';

export type EventType = 'Normal' | 'Warning';

/**
 * Records Kubernetes Events on objects (what `kubectl describe` shows under Events). Repeats of
 * the same event on the same object within the series window bump a count instead of adding rows.
 * Failing to record an event never fails a reconcile: it is logged and dropped.
 */
export class EventRecorder {
  private readonly recent = new Map<
    string,
    { name: string; namespace: string; count: number; first: string; at: number }
  >();

  constructor(
    private readonly rest: KubeRest,
    private readonly component: string,
    private readonly logger: Logger,
    private readonly seriesWindowMs = 600_000,
  ) {}

  async record(object: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    const namespace = object.metadata.namespace ?? 'default';
    const id = `${object.kind ?? ''}/${namespace}/${object.metadata.name}/${reason}/${message}`;
    const now = new Date();
    const previous = this.recent.get(id);
    try {
      if (previous && now.getTime() - previous.at < this.seriesWindowMs) {
        previous.count += 1;
        previous.at = now.getTime();
        await this.rest.request('PATCH', `/api/v1/namespaces/${previous.namespace}/events/${previous.name}`, {
          body: { count: previous.count, lastTimestamp: now.toISOString() },
          contentType: 'application/merge-patch+json',
        });
        return;
      }
      const name = `${object.metadata.name}.${now.getTime().toString(16)}${Math.floor(Math.random() * 0xfff).toString(16)}`;
      await this.rest.request('POST', `/api/v1/namespaces/${namespace}/events`, {
        body: {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name, namespace },
          involvedObject: {
            apiVersion: object.apiVersion,
            kind: object.kind,
            name: object.metadata.name,
            namespace: object.metadata.namespace,
            uid: object.metadata.uid,
          },
          type,
          reason,
          message,
          source: { component: this.component },
          reportingComponent: this.component,
          reportingInstance: this.component,
          firstTimestamp: now.toISOString(),
          lastTimestamp: now.toISOString(),
          count: 1,
        },
      });
      this.recent.set(id, { name, namespace, count: 1, first: now.toISOString(), at: now.getTime() });
      if (this.recent.size > 5000) {
        const oldest = this.recent.keys().next().value;
        if (oldest !== undefined) {
          this.recent.delete(oldest);
        }
      }
    } catch (err) {
      this.logger.warn('could not record an event', {
        reason,
        object: object.metadata.name,
        error: String(err),
      });
    }
  }
}
