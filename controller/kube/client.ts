import { ContentType, isNotFound, type KubeRest } from './rest.js';
import { apiVersionOf, resourcePath, type KubeObject, type ResourceType } from './objects.js';

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

export interface Selector {
  labelSelector?: string;
  fieldSelector?: string;
}

/** Typed access to one kind: get, list, watch, create, patch, server-side apply of status, delete. */
/**
 * Objects per list page. Each page is read as one text and parsed while the last ones are still
 * alive, and what that leaves in the allocator outlives the start: smaller pages left less (docs/performance.md).
 */
const LIST_PAGE = 100;

export class ResourceClient<T extends KubeObject> {
  constructor(
    readonly rest: KubeRest,
    readonly type: ResourceType,
  ) {}

  /** The object, or undefined when it does not exist. */
  async get(name: string, namespace?: string): Promise<T | undefined> {
    try {
      return await this.rest.request<T>('GET', resourcePath(this.type, namespace, name));
    } catch (err) {
      if (isNotFound(err)) {
        return undefined;
      }
      throw err;
    }
  }

  /**
   * Lists every object, following continue tokens in pages so large lists stay bounded in memory.
   * `keep` shapes each object as its page arrives (a cache trims them there, so 50,000 untrimmed
   * objects are never held at once).
   */
  async list(
    namespace?: string,
    selector: Selector = {},
    keep: (object: T) => T = (object) => object,
  ): Promise<ListResult<T>> {
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion: string;
    do {
      const page = await this.rest.request<{
        items: T[];
        metadata: { resourceVersion: string; continue?: string };
      }>('GET', resourcePath(this.type, namespace), {
        query: { ...selector, limit: LIST_PAGE, continue: cont },
      });
      for (const item of page.items) {
        items.push(keep({ ...item, apiVersion: apiVersionOf(this.type), kind: this.type.kind }));
      }
      resourceVersion = page.metadata.resourceVersion;
      cont = page.metadata.continue;
    } while (cont); // an empty continue token ends the list too
    return { items, resourceVersion };
  }

  create(object: T, opts: { dryRun?: boolean } = {}): Promise<T> {
    return this.rest.request<T>('POST', resourcePath(this.type, object.metadata.namespace), {
      body: { ...object, apiVersion: apiVersionOf(this.type), kind: this.type.kind },
      query: { dryRun: opts.dryRun ? 'All' : undefined },
    });
  }

  /** Replaces the object; fails with Conflict when its resourceVersion is stale (optimistic locking). */
  replace(object: T): Promise<T> {
    return this.rest.request<T>(
      'PUT',
      resourcePath(this.type, object.metadata.namespace, object.metadata.name),
      {
        body: { ...object, apiVersion: apiVersionOf(this.type), kind: this.type.kind },
      },
    );
  }

  /** A JSON merge patch of metadata or spec (never status: that goes through applyStatus). */
  mergePatch(name: string, namespace: string | undefined, patch: unknown): Promise<T> {
    return this.rest.request<T>('PATCH', resourcePath(this.type, namespace, name), {
      body: patch,
      contentType: ContentType.mergePatch,
    });
  }

  /**
   * Server-side apply of the status fields this field manager owns, through the status
   * subresource; force takes ownership so one reconciler never fights another's stale claim.
   */
  applyStatus(
    name: string,
    namespace: string | undefined,
    status: unknown,
    fieldManager: string,
    opts: { resourceVersion?: string } = {},
  ): Promise<T> {
    return this.rest.request<T>('PATCH', resourcePath(this.type, namespace, name, 'status'), {
      body: {
        apiVersion: apiVersionOf(this.type),
        kind: this.type.kind,
        // With a resourceVersion the write is refused (Conflict) when it was decided on a stale read.
        metadata: {
          name,
          ...(namespace ? { namespace } : {}),
          ...(opts.resourceVersion ? { resourceVersion: opts.resourceVersion } : {}),
        },
        status,
      },
      contentType: ContentType.apply,
      query: { fieldManager, force: true },
    });
  }

  /** Server-side apply of a whole object (spec and metadata) by a field manager. */
  apply(object: T, fieldManager: string, opts: { dryRun?: boolean } = {}): Promise<T> {
    return this.rest.request<T>(
      'PATCH',
      resourcePath(this.type, object.metadata.namespace, object.metadata.name),
      {
        body: { ...object, apiVersion: apiVersionOf(this.type), kind: this.type.kind },
        contentType: ContentType.apply,
        query: { fieldManager, force: true, dryRun: opts.dryRun ? 'All' : undefined },
      },
    );
  }

  /** Deletes the object; true if it existed. */
  async delete(name: string, namespace?: string): Promise<boolean> {
    try {
      await this.rest.request('DELETE', resourcePath(this.type, namespace, name));
      return true;
    } catch (err) {
      if (isNotFound(err)) {
        return false;
      }
      throw err;
    }
  }
}
