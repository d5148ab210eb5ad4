/** Real HTTP servers for the Envoy interop tests: each answers with its name and records what it saw. */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HttpBackend {
  name: string;
  port: number;
  seen: { path: string; host: string; headers: http.IncomingHttpHeaders }[];
  /** Answer the next N requests with 503. */
  failNext: number;
  delayMs: number;
  stop(): Promise<void>;
}

export async function startHttpBackend(name: string): Promise<HttpBackend> {
  const backend: HttpBackend = { name, port: 0, seen: [], failNext: 0, delayMs: 0, stop: async () => undefined };
  const server = http.createServer((req, res) => {
    backend.seen.push({ path: req.url ?? '', host: req.headers.host ?? '', headers: req.headers });
    if (backend.failNext > 0) {
      backend.failNext--;
      res.writeHead(503).end(`${name} failing\n`);
      return;
    }
    const reply = (): void => {
      res.writeHead(200, { 'x-backend': name }).end(name);
    };
    if (backend.delayMs > 0) setTimeout(reply, backend.delayMs);
    else reply();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  backend.port = (server.address() as AddressInfo).port;
  backend.stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return backend;
}
