/**
 * A small HTTP server shared by the four services: exact and prefix routes, JSON/HTML replies, an access
 * log line per request (with x-request-id and end-user so a request can be followed across services), a
 * MeshError turned into its HTTP status and a JSON body, and a stop() that releases the port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MeshError, type HostPort, type Logger } from '@mesh/runtime';
import { errors } from './errors';

export interface Request {
  method: string;
  path: string;
  query: URLSearchParams;
  /** Path segments after a prefix route's prefix. */
  rest: string;
  raw: IncomingMessage;
}

export interface Reply {
  status: number;
  headers?: Record<string, string | string[]>;
  body: string | object;
}

export type Handler = (req: Request) => Promise<Reply> | Reply;

interface Route {
  method: string;
  path: string;
  prefix: boolean;
  handler: Handler;
}

export class Router {
  private readonly routes: Route[] = [];

  get(path: string, handler: Handler): this {
    return this.add('GET', path, handler);
  }

  post(path: string, handler: Handler): this {
    return this.add('POST', path, handler);
  }

  /** `path` ending in `/` (other than "/" itself) matches every path below it; `req.rest` holds the remainder. */
  add(method: string, path: string, handler: Handler): this {
    this.routes.push({ method, path, prefix: path.length > 1 && path.endsWith('/'), handler });
    return this;
  }

  match(method: string, path: string): { handler: Handler; rest: string } | undefined {
    for (const r of this.routes) {
      const m = method === 'HEAD' ? 'GET' : method;
      if (r.method !== m) continue;
      if (!r.prefix && r.path === path) return { handler: r.handler, rest: '' };
      if (r.prefix && path.startsWith(r.path) && path.length > r.path.length) return { handler: r.handler, rest: path.slice(r.path.length) };
    }
    return undefined;
  }
}

export interface StartedServer {
  address: HostPort;
  stop(): Promise<void>;
}

export const MAX_BODY_BYTES = 64 * 1024;

export function readBody(raw: IncomingMessage, limit = MAX_BODY_BYTES): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    raw.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(errors.create('BODY_TOO_LARGE', { limit }));
        raw.destroy();
        return;
      }
      chunks.push(chunk);
    });
    raw.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    raw.on('error', reject);
  });
}

function send(res: ServerResponse, reply: Reply): void {
  const isText = typeof reply.body === 'string';
  const body = isText ? (reply.body as string) : JSON.stringify(reply.body);
  const headers: Record<string, string | string[] | number> = {
    'content-type': isText ? 'text/html; charset=utf-8' : 'application/json',
    'content-length': Buffer.byteLength(body),
    ...reply.headers,
  };
  res.writeHead(reply.status, headers);
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function errorReply(err: unknown): Reply {
  if (err instanceof MeshError) return { status: err.httpStatus, body: { error: err.message, code: err.code } };
  const e = errors.create('INTERNAL', { reason: (err as Error)?.message ?? String(err) });
  return { status: e.httpStatus, body: { error: e.message, code: e.code } };
}

export async function startServer(router: Router, listen: HostPort, log: Logger): Promise<StartedServer> {
  const server: Server = createServer((raw, res) => {
    const started = process.hrtime.bigint();
    const url = new URL(raw.url ?? '/', 'http://localhost');
    const method = raw.method ?? 'GET';
    const found = router.match(method, url.pathname);
    const handle = async (): Promise<Reply> => {
      if (!found) throw errors.create('ROUTE_NOT_FOUND', { method, path: url.pathname });
      return found.handler({ method, path: url.pathname, query: url.searchParams, rest: found.rest, raw });
    };
    handle()
      .catch(errorReply)
      .then((reply) => {
        if (!res.headersSent && !res.destroyed) send(res, reply);
        log.info('request', {
          method,
          path: url.pathname,
          status: reply.status,
          durationMs: Number(process.hrtime.bigint() - started) / 1e6,
          requestId: raw.headers['x-request-id'],
          endUser: raw.headers['end-user'],
          traceparent: raw.headers['traceparent'],
          b3TraceId: raw.headers['x-b3-traceid'],
        });
      })
      .catch((err: Error) => log.error('reply failed', { path: url.pathname, error: err.message }));
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const info = server.address() as AddressInfo;
  return {
    address: { host: info.address, port: info.port },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
