// Every invalid manifest in test/fixtures/invalid-manifests is refused by the real API server with
// the field path and message the fixture names: the schema and CEL rules users meet on `kubectl apply`.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { load } from 'js-yaml';
import { allResources } from '../../../controller/api/index.js';
import {
  apiError,
  connect,
  repoRoot,
  useNamespace,
  type ApiError,
  type Manifest,
} from '../../support/kube.js';

interface InvalidCase {
  name: string;
  patch: Record<string, unknown>;
  field: string;
  message: string;
}

interface CorpusFile {
  base: Manifest;
  cases: InvalidCase[];
}

const corpusDir = path.join(repoRoot, 'test/fixtures/invalid-manifests');
const corpus = readdirSync(corpusDir)
  .filter((file) => file.endsWith('.yaml'))
  .map((file) => load(readFileSync(path.join(corpusDir, file), 'utf8')) as CorpusFile);

const isMap = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** RFC 7386 JSON merge patch: objects merge, null removes, anything else replaces. */
function mergePatched(target: unknown, patch: unknown): unknown {
  if (!isMap(patch)) {
    return patch;
  }
  const base = isMap(target) ? target : {};
  const keys = new Set([...Object.keys(base), ...Object.keys(patch)]);
  return Object.fromEntries(
    [...keys]
      .filter((key) => patch[key] !== null)
      .map((key) => [key, key in patch ? mergePatched(base[key], patch[key]) : base[key]]),
  );
}

/**
 * Creates the object as a dry run with strict field validation, as kubectl does, so unknown fields
 * are errors rather than warnings. Resolves to the refusal, or undefined when the server accepted it.
 */
async function submit(manifest: Manifest, namespace: string): Promise<ApiError | undefined> {
  const resource = allResources.find((r) => r.kind === manifest.kind);
  if (!resource) {
    throw new Error(`no shadowkeep.io resource of kind ${manifest.kind}`);
  }
  const request = {
    group: resource.group,
    version: resource.version,
    plural: resource.plural,
    body: manifest,
    dryRun: 'All',
    fieldValidation: 'Strict',
  };
  const { custom } = connect();
  try {
    await (resource.namespaced
      ? custom.createNamespacedCustomObject({ ...request, namespace })
      : custom.createClusterCustomObject(request));
    return undefined;
  } catch (err) {
    const refusal = apiError(err);
    if (!refusal) {
      throw err;
    }
    return refusal;
  }
}

/** Where the server blames `field` with `message`: a cause naming the field, or (strict decoding) the whole message. */
function blames(refusal: ApiError, field: string, message: string): boolean {
  if (refusal.causes.some((cause) => cause.field === field && cause.message?.includes(message))) {
    return true;
  }
  return refusal.causes.length === 0 && refusal.message.includes(field) && refusal.message.includes(message);
}

describe('invalid manifests', () => {
  const namespace = useNamespace('api-invalid');
  const refusals = new Map<InvalidCase, ApiError | undefined>();

  // One parallel batch of server-side dry runs; each case below then only reads its answer.
  before(async () => {
    const submissions = corpus.flatMap(({ base, cases }) =>
      cases.map(async (invalid) => {
        refusals.set(invalid, await submit(mergePatched(base, invalid.patch) as Manifest, namespace.name));
      }),
    );
    await Promise.all(submissions);
  });

  it('start from base manifests the API server accepts, so each case fails for its own reason', async () => {
    for (const { base } of corpus) {
      expect(await submit(base, namespace.name), `${base.kind} base`).to.equal(undefined);
    }
  });

  it('number at least 40 and cover every kind', () => {
    expect(corpus.flatMap((file) => file.cases)).to.have.length.of.at.least(40);
    expect(corpus.map((file) => file.base.kind)).to.have.members(allResources.map((r) => r.kind));
  });

  for (const { base, cases } of corpus) {
    describe(base.kind, () => {
      for (const invalid of cases) {
        it(`refuses ${invalid.name}: ${invalid.field} "${invalid.message}"`, () => {
          const refusal = refusals.get(invalid);
          expect(refusal, 'the API server accepted it').to.not.equal(undefined);
          expect(
            blames(refusal!, invalid.field, invalid.message),
            `refused for another reason: ${JSON.stringify(refusal)}`,
          ).to.equal(true);
        });
      }
    });
  }
});
