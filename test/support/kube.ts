/**
 * Small helpers for integration tests against the real control plane (see test/integration/hooks.ts,
 * which makes sure KUBECONFIG points at one with the CRDs installed):
 *
 * - `connect()`           clients built from $KUBECONFIG (cached: one connection pool per process)
 * - `useNamespace(p)`     a fresh namespace for the enclosing mocha `describe`, deleted afterwards
 * - `apply(docs, opts)`   server-side apply of YAML text or objects, optionally as a dry run
 * - `kubectl(args, ...)`  the real kubectl binary against the same control plane
 * - `mergePatch`          the request option that makes client-node send a JSON merge patch
 * - `patchStatus(...)`    put a custom object's status in any state, as a controller would
 * - `parseTables(out)`    rows of `kubectl get` output, keyed by column header
 * - `apiError(err)`       the Kubernetes Status inside a client-node error (code, message, causes)
 * - `refused(request)`    the Status of a request that must be refused
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { execa } from 'execa';
import { loadAll } from 'js-yaml';

/** The repository root (tests run compiled, from dist/test/support). */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** Environment for child processes: the project's kubectl, helm and control plane binaries first. */
export const toolsEnv = {
  PATH: `${path.join(repoRoot, '.cache/bin')}${path.delimiter}${process.env.PATH ?? ''}`,
};

export interface Kube {
  config: KubeConfig;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  /** Generic create/read/patch/delete of any object by its apiVersion and kind. */
  objects: KubernetesObjectApi;
}

let cached: Kube | undefined;

/** Clients for the control plane $KUBECONFIG names. Fails loudly when it is unset. */
export function connect(): Kube {
  if (cached) {
    return cached;
  }
  const file = process.env.KUBECONFIG;
  if (!file) {
    throw new Error(
      'KUBECONFIG is not set: run integration tests through hack/run-tests.sh or with --require dist/test/integration/hooks.js',
    );
  }
  const config = new KubeConfig();
  config.loadFromFile(file);
  cached = {
    config,
    core: config.makeApiClient(CoreV1Api),
    custom: config.makeApiClient(CustomObjectsApi),
    objects: KubernetesObjectApi.makeApiClient(config),
  };
  return cached;
}

/**
 * client-node 2.x sends CustomObjectsApi patches as JSON Patch unless told otherwise; pass this as
 * the last argument of a patch call to send a JSON merge patch (a partial object) instead.
 */
export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Creates a namespace named `<prefix>-<random>` and returns its name. */
export async function createNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await apply({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { 'shadowkeep.io/test': 'true' } },
  });
  return name;
}

/** Starts deleting a namespace; the control plane's namespace controller finishes in the background. */
export async function deleteNamespace(name: string): Promise<void> {
  try {
    await connect().core.deleteNamespace({ name });
  } catch (err) {
    if (apiError(err)?.code !== 404) {
      throw err;
    }
  }
}

/**
 * Gives the enclosing `describe` one namespace, created before its first test and deleted after its
 * last, so tests in it share setup cost but never see another suite's objects. Read `.name` inside
 * hooks and tests (it is empty while mocha collects the tests).
 */
export function useNamespace(prefix: string): { readonly name: string } {
  const holder = { name: '' };
  before(async () => {
    holder.name = await createNamespace(prefix);
  });
  after(async () => {
    if (holder.name) {
      await deleteNamespace(holder.name);
    }
  });
  return holder;
}

/**
 * A Kubernetes object as tests write it: plain data with whatever its kind carries (spec, status,
 * data...). client-node's own types are classes, which object literals should not pretend to be.
 */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

/** Parses YAML text (several documents allowed) into Kubernetes objects, skipping empty documents. */
export function parseYaml(text: string): Manifest[] {
  return loadAll(text).filter((doc): doc is Manifest => typeof doc === 'object' && doc !== null);
}

export interface ApplyOptions {
  /** Namespace for objects that do not name one (the server drops it from cluster-scoped ones). */
  namespace?: string;
  /** Validate and default on the server without storing anything. */
  dryRun?: boolean;
  fieldManager?: string;
}

/**
 * Server-side applies each object (as `kubectl apply --server-side --force-conflicts` does) and
 * returns what the server stored, or would store in a dry run. Stops at the first rejection.
 */
export async function apply(
  docs: string | Manifest | Manifest[],
  options: ApplyOptions = {},
): Promise<Manifest[]> {
  const objects = typeof docs === 'string' ? parseYaml(docs) : Array.isArray(docs) ? docs : [docs];
  const { objects: api } = connect();
  const applied: Manifest[] = [];
  for (const object of objects) {
    const body =
      options.namespace && !object.metadata?.namespace
        ? { ...object, metadata: { ...object.metadata, namespace: options.namespace } }
        : object;
    const result = await api.patch(
      body,
      undefined,
      options.dryRun ? 'All' : undefined,
      options.fieldManager ?? 'shadowkeep-tests',
      true,
      PatchStrategy.ServerSideApply,
    );
    applied.push(result);
  }
  return applied;
}

/** Where a custom resource lives, as controller/api's `*Resource` constants describe it. */
export interface CustomResource {
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
}

/**
 * Merge-patches an object's status subresource, as the controller or an agent would, so a test can
 * put an object in any observed state. `namespace` is ignored for cluster-scoped resources.
 */
export async function patchStatus(
  resource: CustomResource,
  name: string,
  namespace: string,
  status: Record<string, unknown>,
): Promise<void> {
  const { custom } = connect();
  const request = {
    group: resource.group,
    version: resource.version,
    plural: resource.plural,
    name,
    body: { status },
  };
  await (resource.namespaced
    ? custom.patchNamespacedCustomObjectStatus({ ...request, namespace }, mergePatch)
    : custom.patchClusterCustomObjectStatus(request, mergePatch));
}

/**
 * Reads the tables `kubectl get` prints (several when several kinds are asked for) into rows keyed
 * by column header. Cells are cut at the header's column positions, so empty cells stay empty.
 */
export function parseTables(stdout: string): Record<string, string>[][] {
  return stdout
    .split(/\n\s*\n/)
    .map((block) => block.split('\n').filter((line) => line.trim() !== ''))
    .filter((lines) => lines.length > 0)
    .map(([header = '', ...rows]) => {
      const columns = [...header.matchAll(/\S+/g)].map((match) => ({ name: match[0], start: match.index }));
      return rows.map((row) =>
        Object.fromEntries(
          columns.map(({ name, start }, i) => [
            name,
            row.slice(start, columns[i + 1]?.start ?? row.length).trim(),
          ]),
        ),
      );
    });
}

/** A cause in a Kubernetes Status: which field was wrong and why. */
export interface StatusCause {
  field?: string;
  message?: string;
  reason?: string;
}

/** The parts of a Kubernetes Status error that tests assert on. */
export interface ApiError {
  code: number;
  message: string;
  causes: StatusCause[];
}

/** Unwraps the Kubernetes Status from a client-node error; undefined for anything else. */
export function apiError(err: unknown): ApiError | undefined {
  if (!(err instanceof ApiException)) {
    return undefined;
  }
  const raw: unknown = err.body;
  let status: unknown = raw;
  if (typeof raw === 'string') {
    try {
      status = JSON.parse(raw);
    } catch {
      status = { message: raw };
    }
  }
  const body = (typeof status === 'object' && status !== null ? status : {}) as {
    message?: string;
    details?: { causes?: StatusCause[] };
  };
  return { code: err.code, message: body.message ?? String(raw), causes: body.details?.causes ?? [] };
}

/** Awaits a request the API server must refuse and returns its Status; fails when it was accepted. */
export async function refused(request: Promise<unknown>): Promise<ApiError> {
  try {
    await request;
  } catch (err) {
    const status = apiError(err);
    if (status) {
      return status;
    }
    throw err;
  }
  throw new Error('the API server accepted a request it should have refused');
}

/**
 * Runs the real kubectl (from .cache/bin) against $KUBECONFIG. Never throws on a non-zero exit:
 * tests assert on `exitCode`, `stdout` and `stderr`.
 */
export async function kubectl(args: string[], options: { input?: string } = {}): Promise<KubectlResult> {
  connect(); // fails early with a clear message when KUBECONFIG is missing
  const { exitCode, stdout, stderr } = await execa('kubectl', args, {
    reject: false,
    input: options.input,
    env: toolsEnv,
  });
  return { exitCode: exitCode ?? -1, stdout, stderr };
}

export interface KubectlResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}
