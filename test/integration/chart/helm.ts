/**
 * Helpers for the chart's integration tests: the real helm binary (from .cache/bin) against the
 * control plane in $KUBECONFIG, the chart's path, and rendering it into objects.
 */
import path from 'node:path';
import { execa } from 'execa';
import { parseYaml, repoRoot, toolsEnv, type Manifest } from '../../support/kube.js';

export const chartDir = path.join(repoRoot, 'charts/shadowkeep');

export interface HelmResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs helm; never throws on a non-zero exit, so tests assert on the result. */
export async function helm(args: string[]): Promise<HelmResult> {
  const { exitCode, stdout, stderr } = await execa('helm', args, {
    reject: false,
    env: toolsEnv,
    cwd: repoRoot,
  });
  return { exitCode: exitCode ?? -1, stdout, stderr };
}

/** `--set` arguments for each entry (values are passed as --set-json so types survive). */
export function setArgs(values: Record<string, unknown>): string[] {
  return Object.entries(values).flatMap(([key, value]) => ['--set-json', `${key}=${JSON.stringify(value)}`]);
}

/** The chart rendered by `helm template`, as text and as objects; throws when rendering fails. */
export async function renderChart(
  release: string,
  namespace: string,
  values: Record<string, unknown> = {},
): Promise<{ text: string; objects: Manifest[] }> {
  const result = await helm(['template', release, chartDir, '--namespace', namespace, ...setArgs(values)]);
  if (result.exitCode !== 0) {
    throw new Error(`helm template failed: ${result.stderr}`);
  }
  return { text: result.stdout, objects: parseYaml(result.stdout) };
}
