/** HTTP on the monitoring address: /metrics (Prometheus), /ready, /root-cert.pem (the trust bundle). */
import http from 'node:http';
import type { HostPort, Logger } from '@mesh/runtime';
import { errors } from './errors';
import type { CitadelMetrics } from './metrics';

export interface MonitoringDeps {
  metrics: CitadelMetrics;
  rootBundle: () => string;
  ready: () => boolean;
  log: Logger;
}

export async function startMonitoringServer(address: HostPort, deps: MonitoringDeps): Promise<{ port: number; stop(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (url === '/root-cert.pem') {
      res.writeHead(200, { 'content-type': 'application/x-pem-file' }).end(deps.rootBundle());
    } else if (url === '/ready') {
      const ready = deps.ready();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'not ready\n');
    } else if (url === '/metrics') {
      deps.metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': deps.metrics.registry.contentType }).end(text),
        (err: Error) => {
          deps.log.error('metrics collection failed', { error: err.message });
          res.writeHead(500).end();
        },
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics, /ready, /root-cert.pem\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(errors.create('LISTEN_FAILED', { address: `${address.host}:${address.port}`, reason: err.message })));
    server.listen(address.port, address.host, () => resolve());
  });
  const bound = server.address();
  return {
    port: typeof bound === 'object' && bound ? bound.port : address.port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
