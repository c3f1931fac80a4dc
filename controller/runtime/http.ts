import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface Probe {
  name: string;
  /** Undefined when healthy, otherwise why not (shown in the probe's body). */
  check(): string | undefined;
}

/**
 * `/healthz` (alive), `/readyz` (caches synced, able to work) and `/metrics` (Prometheus) on one
 * port, as kubelet probes and a ServiceMonitor expect.
 */
export function serveHealthAndMetrics(
  port: number,
  host: string,
  { liveness, readiness, registry }: { liveness: Probe[]; readiness: Probe[]; registry: Registry },
): Promise<Server> {
  const report = (probes: Probe[]): { ok: boolean; body: string } => {
    const failures = probes.flatMap((p) => {
      const problem = p.check();
      return problem === undefined ? [] : [`${p.name}: ${problem}`];
    });
    return { ok: failures.length === 0, body: failures.length === 0 ? 'ok\n' : `${failures.join('\n')}\n` };
  };
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz' || path === '/readyz') {
      const { ok, body } = report(path === '/healthz' ? liveness : readiness);
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(body);
      return;
    }
    if (path === '/metrics') {
      registry
        .metrics()
        .then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text))
        .catch((err: unknown) => res.writeHead(500).end(String(err)));
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      resolve(server);
    });
  });
}
