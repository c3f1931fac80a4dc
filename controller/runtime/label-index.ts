import type { KubeObject } from '../kube/objects.js';

/**
 * Which cached objects carry a label value, for a fixed set of label keys: finding a VM's or a
 * policy's recovery points among tens of thousands is then a lookup, not a scan of the whole cache
 * per reconcile (one per completed point of a tick would scan it thousands of times).
 */
export class LabelIndex {
  /** label key → label value → object keys. */
  private readonly keys = new Map<string, Map<string, Set<string>>>();

  constructor(labelKeys: readonly string[]) {
    for (const label of labelKeys) {
      this.keys.set(label, new Map());
    }
  }

  /** Records that `key` now is `object` (undefined: deleted), given what it was before. */
  update(key: string, before: KubeObject | undefined, after: KubeObject | undefined): void {
    for (const [label, values] of this.keys) {
      const was = before?.metadata.labels?.[label];
      const is = after?.metadata.labels?.[label];
      if (was === is) {
        continue;
      }
      if (was !== undefined) {
        const set = values.get(was);
        set?.delete(key);
        if (set?.size === 0) {
          values.delete(was);
        }
      }
      if (is !== undefined) {
        let set = values.get(is);
        if (!set) {
          set = new Set();
          values.set(is, set);
        }
        set.add(key);
      }
    }
  }

  /** Keys of the objects whose `label` is `value`; fails for a label this index does not keep. */
  lookup(label: string, value: string): readonly string[] {
    const values = this.keys.get(label);
    if (!values) {
      throw new Error(`label ${label} is not indexed; add it to the informer's indexLabels`);
    }
    return [...(values.get(value) ?? [])];
  }
}
