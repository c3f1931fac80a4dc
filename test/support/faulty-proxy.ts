/**
 * A loopback HTTP proxy in front of a real object store that can be told to misbehave: answer
 * the next requests with an error status, cut a request's upload midway, or cut a response's body
 * midway. Everything else is forwarded unchanged (headers included, so signatures still match).
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault =
  /** Answer with this status (after reading the request) without forwarding. */
  | { kind: 'status'; status: number }
  /** Read half of the request body, then drop the connection: the server never sees the request. */
  | { kind: 'resetUpload' }
  /** Forward, then send only the response headers and half the body before dropping the connection. */
  | { kind: 'resetDownload' };

interface Rule {
  fault: Fault;
  /** How many more matching requests get the fault; Infinity for all. */
  remaining: number;
  method?: string;
}

export interface FaultyProxy {
  /** http://127.0.0.1:PORT, the address clients use instead of the server's. */
  url: string;
  port: number;
  /** Applies `fault` to the next `count` requests (of `method`, if given). */
  inject(fault: Fault, count: number, method?: string): void;
  /** Faults served since the start or the last `clear`. */
  readonly faultsServed: number;
  /** Statuses the server answered with, in order, since the start or the last `clear`. */
  readonly upstreamStatuses: readonly number[];
  clear(): void;
  stop(): Promise<void>;
}

function drain(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    req.on('data', () => undefined);
    req.on('end', resolve);
    req.on('error', () => {
      resolve();
    });
  });
}

export async function startFaultyProxy(target: { host: string; port: number }): Promise<FaultyProxy> {
  const rules: Rule[] = [];
  let served = 0;
  const statuses: number[] = [];

  function take(method: string | undefined): Fault | undefined {
    const rule = rules.find((r) => r.remaining > 0 && (r.method === undefined || r.method === method));
    if (!rule) {
      return undefined;
    }
    rule.remaining--;
    served++;
    return rule.fault;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const fault = take(req.method);
    if (fault?.kind === 'status') {
      await drain(req);
      res.writeHead(fault.status, { 'content-type': 'text/plain' }).end('fault injected by the test proxy');
      return;
    }
    if (fault?.kind === 'resetUpload') {
      const length = Number(req.headers['content-length'] ?? 0);
      let seen = 0;
      req.on('data', (chunk: Buffer) => {
        seen += chunk.length;
        if (seen >= length / 2) {
          req.socket.destroy();
        }
      });
      if (length === 0) {
        req.socket.destroy();
      }
      return;
    }
    const upstream = request({
      host: target.host,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
    });
    upstream.on('response', (up) => {
      statuses.push(up.statusCode ?? 0);
      if (fault?.kind === 'resetDownload') {
        const length = Number(up.headers['content-length'] ?? 0);
        res.writeHead(up.statusCode ?? 502, up.headers);
        let sent = 0;
        up.on('data', (chunk: Buffer) => {
          if (sent + chunk.length >= length / 2) {
            res.write(chunk.subarray(0, Math.max(0, Math.floor(length / 2) - sent)));
            res.socket?.destroy();
            up.destroy();
          } else {
            res.write(chunk);
            sent += chunk.length;
          }
        });
        return;
      }
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.socket?.destroy());
    req.pipe(upstream);
  }

  const server: Server = createServer((req, res) => {
    void handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    inject(fault, count, method) {
      rules.push({ fault, remaining: count, method });
    },
    get faultsServed() {
      return served;
    },
    get upstreamStatuses() {
      return statuses;
    },
    clear() {
      rules.length = 0;
      served = 0;
      statuses.length = 0;
    },
    stop() {
      server.closeAllConnections();
      return new Promise((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    },
  };
}
