/** What selection needs to know of one VM in the inventory (a HyperVVirtualMachine). */
export interface InventoryVM {
  id: string;
  name: string;
  host?: string;
  cluster?: string;
  labels: Record<string, string>;
  /** Namespaces other than the controller's own that the platform team allows to protect this VM. */
  allowedNamespaces: string[];
  /** Protected by a guest-level tool (e.g. SQL-native backups): host-level protection would double up. */
  guestProtected: boolean;
}

export interface LabelRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface VMSelector {
  names?: string[];
  namePatterns?: string[];
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelRequirement[];
  hosts?: string[];
  clusters?: string[];
  exclude?: string[];
}

/** Glob over Hyper-V VM names, which Hyper-V compares without regard to case: `*` and `?`. */
export function globMatches(pattern: string, name: string): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${source}$`, 'i').test(name);
}

function labelsMatch(selector: VMSelector, labels: Record<string, string>): boolean {
  const exact = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  return (
    exact &&
    (selector.matchExpressions ?? []).every((req) => {
      const value = Object.hasOwn(labels, req.key) ? labels[req.key] : undefined;
      switch (req.operator) {
        case 'Exists':
          return value !== undefined;
        case 'DoesNotExist':
          return value === undefined;
        case 'In':
          return value !== undefined && (req.values ?? []).includes(value);
        case 'NotIn':
          return value === undefined || !(req.values ?? []).includes(value);
      }
    })
  );
}

/**
 * Whether a policy's selector picks a VM. Name rules (names, patterns) and label rules (matchLabels,
 * matchExpressions) each narrow when given; with names and patterns both given, either may match.
 * Hosts and clusters narrow by placement; exclusions (names or globs) always win.
 */
export function selects(selector: VMSelector, vm: InventoryVM): boolean {
  if ((selector.exclude ?? []).some((p) => globMatches(p, vm.name))) {
    return false;
  }
  const byName = [...(selector.names ?? []), ...(selector.namePatterns ?? [])];
  if (byName.length > 0 && !byName.some((p) => globMatches(p, vm.name))) {
    return false;
  }
  const hasLabelRules =
    Object.keys(selector.matchLabels ?? {}).length > 0 || (selector.matchExpressions ?? []).length > 0;
  if (hasLabelRules && !labelsMatch(selector, vm.labels)) {
    return false;
  }
  if (selector.hosts?.length && !(vm.host && selector.hosts.includes(vm.host))) {
    return false;
  }
  if (selector.clusters?.length && !(vm.cluster && selector.clusters.includes(vm.cluster))) {
    return false;
  }
  return (
    byName.length > 0 ||
    hasLabelRules ||
    Boolean(selector.hosts?.length) ||
    Boolean(selector.clusters?.length)
  );
}

/** Whether a policy in `namespace` may protect the VM: the controller's namespace always may. */
export function namespaceMayProtect(
  namespace: string,
  vm: InventoryVM,
  controllerNamespace: string,
): boolean {
  return (
    namespace === controllerNamespace ||
    vm.allowedNamespaces.includes(namespace) ||
    vm.allowedNamespaces.includes('*')
  );
}

export interface PolicyRef {
  namespace: string;
  name: string;
  createdAt: string;
}

/**
 * When several policies select one VM, the oldest policy protects it (then by namespace/name, so
 * every replica decides alike); the others report the conflict instead of backing it up twice.
 */
export function owningPolicy(claimants: readonly PolicyRef[]): PolicyRef | undefined {
  return [...claimants].sort(
    (a, b) =>
      a.createdAt.localeCompare(b.createdAt) ||
      a.namespace.localeCompare(b.namespace) ||
      a.name.localeCompare(b.name),
  )[0];
}
