import { HttpMethod, RequestContext, type KubeConfig } from './kubeconfig.js';
import { fetch } from 'undici';

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

/** How long one connection pool serves before a fresh one picks up rotated credentials. */
const dispatcherRenewMs = 10 * 60_000;

/** An error answered by the API server, with its HTTP code and Status reason (NotFound, Conflict, ...). */
export class KubeApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

export const isNotFound = (err: unknown): boolean => err instanceof KubeApiError && err.code === 404;
export const isConflict = (err: unknown): boolean => err instanceof KubeApiError && err.code === 409;
export const isGone = (err: unknown): boolean => err instanceof KubeApiError && err.code === 410;

export const ContentType = {
  json: 'application/json',
  mergePatch: 'application/merge-patch+json',
  jsonPatch: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: (typeof ContentType)[keyof typeof ContentType];
  signal?: AbortSignal;
}

function isStatus(value: unknown): value is { kind: 'Status'; reason?: string; message?: string } {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'Status';
}

/**
 * A thin REST client over the kubeconfig's server and credentials. Calls say their content type
 * explicitly (client-node's generated clients default custom-object patches to JSON Patch, and
 * status subresources and server-side apply need their own), and errors carry the Status reason.
 */
export class KubeRest {
  private readonly server: string;
  private shared: { dispatcher: Dispatcher | undefined; renewAt: number } | undefined;

  constructor(readonly config: KubeConfig) {
    const cluster = config.getCurrentCluster();
    if (!cluster) {
      throw new Error('the kubeconfig has no current cluster');
    }
    this.server = cluster.server.replace(/\/$/, '');
  }

  private async prepare(method: HttpMethod, path: string, opts: RequestOptions): Promise<RequestContext> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined) {
        url.searchParams.set(k, String(v));
      }
    }
    const ctx = new RequestContext(url.toString(), method);
    await this.config.applySecurityAuthentication(ctx);
    ctx.setHeaderParam('Accept', 'application/json');
    if (opts.body !== undefined) {
      ctx.setHeaderParam('Content-Type', opts.contentType ?? ContentType.json);
    }
    return ctx;
  }

  /**
   * One connection pool for every request. client-node builds a new undici Agent on every
   * applySecurityAuthentication, so using the request's own would open a TCP connection and do a
   * full TLS handshake (client certificate included) per request: at thousands of writes that
   * handshake, on both ends, was most of the CPU. The pool is renewed every few minutes so rotated
   * certificates take effect; the old one closes once its requests (and watches) finish.
   */
  private dispatcherFor(ctx: RequestContext): Dispatcher | undefined {
    const now = Date.now();
    if (!this.shared || now >= this.shared.renewAt) {
      const old = this.shared?.dispatcher;
      this.shared = { dispatcher: ctx.getDispatcher(), renewAt: now + dispatcherRenewMs };
      void old?.close().catch(() => undefined);
    }
    return this.shared.dispatcher;
  }

  async request<T>(method: keyof typeof HttpMethod, path: string, opts: RequestOptions = {}): Promise<T> {
    const ctx = await this.prepare(HttpMethod[method], path, opts);
    const dispatcher = this.dispatcherFor(ctx);
    const response = await fetch(ctx.getUrl(), {
      method,
      headers: ctx.getHeaders(),
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      ...(dispatcher ? { dispatcher } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const text = await response.text();
    const parsed: unknown = text.length > 0 ? JSON.parse(text) : undefined;
    if (!response.ok) {
      const reason = isStatus(parsed) ? (parsed.reason ?? '') : response.statusText;
      const message = isStatus(parsed) ? (parsed.message ?? text) : text;
      throw new KubeApiError(response.status, reason, `${method} ${path}: ${message}`);
    }
    return parsed as T;
  }

  /**
   * Streams a watch: calls `onEvent` per event until the server closes the stream, the signal
   * aborts, or an error occurs; resolves on a clean close and rejects on errors.
   */
  async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (type: string, object: unknown) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const ctx = await this.prepare(HttpMethod.GET, path, { query: { ...query, watch: true } });
    const dispatcher = this.dispatcherFor(ctx);
    const response = await fetch(ctx.getUrl(), {
      headers: ctx.getHeaders(),
      signal,
      ...(dispatcher ? { dispatcher } : {}),
    });
    if (!response.ok || !response.body) {
      const text = await response.text();
      throw new KubeApiError(response.status, response.statusText, `watch ${path}: ${text}`);
    }
    // undici types the body as ReadableStream<any>; a fetch body streams bytes.
    const body: AsyncIterable<Uint8Array> = response.body;
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of body) {
      buffered += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line.length > 0) {
          const event = JSON.parse(line) as { type: string; object: unknown };
          onEvent(event.type, event.object);
        }
      }
    }
  }
}
