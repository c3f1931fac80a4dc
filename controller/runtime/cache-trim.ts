import type { KubeObject } from '../kube/objects.js';

/** Strings longer than this are rarely repeated between objects (messages aside): not worth a lookup. */
const maxSharedLength = 64;
/** The table forgets everything at this size, so unique strings (uids, times) never pile up. */
const maxSharedStrings = 20_000;

/**
 * One copy of each short string value for every cached object. JSON.parse gives each object its own
 * copy of "shadowkeep.io/v1alpha1", "Completed", the policy, repository and host names, condition
 * reasons and messages; with tens of thousands of recovery points those copies are a quarter of
 * the cache. Sharing is safe because strings are immutable. The table is bounded: when it fills
 * (mostly with values that occur once) it starts afresh, and strings already shared stay shared.
 */
export class StringTable {
  private readonly strings = new Map<string, string>();

  constructor(private readonly capacity = maxSharedStrings) {}

  get size(): number {
    return this.strings.size;
  }

  share(value: string): string {
    if (value.length > maxSharedLength) {
      return value;
    }
    const known = this.strings.get(value);
    if (known !== undefined) {
      return known;
    }
    if (this.strings.size >= this.capacity) {
      this.strings.clear();
    }
    this.strings.set(value, value);
    return value;
  }

  /** Replaces every string value inside `value` (objects and arrays, in place) by its shared copy. */
  shareAll<T>(value: T): T {
    if (typeof value === 'string') {
      return this.share(value) as T;
    }
    if (Array.isArray(value)) {
      const items = value as unknown[];
      for (let i = 0; i < items.length; i++) {
        items[i] = this.shareAll(items[i]);
      }
    } else if (typeof value === 'object' && value !== null) {
      const record = value as Record<string, unknown>;
      for (const key of Object.keys(record)) {
        record[key] = this.shareAll(record[key]);
      }
    }
    return value;
  }
}

/**
 * What a cache keeps of an object the API server sent: all of it but metadata.managedFields, the
 * server's record of which field manager set which field. No reconciler reads it (server-side
 * apply works from the request alone), and on a recovery point that two agents' and the
 * controller's writes have touched it is more than half of the object. Changes `object` in place.
 */
export function trimForCache<T extends KubeObject>(object: T, strings: StringTable): T {
  const metadata = object.metadata as T['metadata'] & { managedFields?: unknown };
  delete metadata.managedFields;
  return strings.shareAll(object);
}
