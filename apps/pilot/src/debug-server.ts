/**
 * `--debug-address`: /ready, /metrics (Prometheus), /debug/syncz, /debug/config_dump?proxyID=,
 * /debug/registryz, /debug/configz. JSON everywhere except /metrics.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@mesh/runtime';
import { TYPE_URL, type AdsServer } from '@mesh/xds';
import { redactConfig } from '@mesh/config';
import type { ConfigStore } from './config-store';
import type { PilotMetrics } from './debug-metrics';
import type { PushManager } from './push-manager';
import { shortType } from './push-manager';
import { redactSecretResource } from './translate-gateway-tls';

export interface DebugDeps {
  ads: AdsServer;
  push: PushManager;
  store: ConfigStore;
  metrics: PilotMetrics;
  log: Logger;
  ready: () => boolean;
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body, null, 2));
}

export function syncz(ads: AdsServer): unknown[] {
  return ads.status().map((c) => ({
    proxy: c.node.id,
    connectionId: c.connectionId,
    kind: c.kind,
    peer: c.peer,
    connectedAt: c.connectedAt,
    types: Object.fromEntries(
      c.types.map((t) => [
        shortType(t.typeUrl),
        {
          typeUrl: t.typeUrl,
          subscribed: t.subscribed,
          sentVersion: t.sentVersion,
          ackedVersion: t.ackedVersion,
          lastNack: t.lastNack ? { message: t.lastNack.message, version: t.lastNack.version, at: t.lastNack.at } : null,
        },
      ]),
    ),
  }));
}

function configDump(deps: DebugDeps, proxyId: string): unknown {
  const snapshot = deps.ads.getSnapshot(proxyId);
  if (!snapshot) return undefined;
  return {
    proxy: proxyId,
    configs: snapshot.typeUrls().map((t) => ({
      typeUrl: t,
      version: snapshot.version(t),
      // Gateway credentials: never a private key in debug output.
      resources: [...snapshot.resources(t).values()].map((r) => (t === TYPE_URL.SECRET ? redactSecretResource(r.resource) : r.resource)),
    })),
  };
}

function registryz(deps: DebugDeps): unknown {
  const reg = deps.push.current().registry;
  return reg.services().map((s) => ({
    ...s,
    endpoints: Object.fromEntries(s.ports.map((p) => [String(p.number), reg.endpoints(s, p)])),
  }));
}

export async function startDebugServer(host: string, port: number, deps: DebugDeps): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      switch (url.pathname) {
        case '/ready':
          if (deps.ready()) res.writeHead(200).end('ready\n');
          else res.writeHead(503).end('not ready\n');
          return;
        case '/metrics':
          deps.metrics.registry.metrics().then(
            (text) => res.writeHead(200, { 'content-type': deps.metrics.registry.contentType }).end(text),
            (err: Error) => json(res, 500, { error: err.message }),
          );
          return;
        case '/debug/syncz':
          json(res, 200, syncz(deps.ads));
          return;
        case '/debug/config_dump': {
          const id = url.searchParams.get('proxyID');
          if (!id) return json(res, 400, { error: 'query parameter proxyID is required' });
          const dump = configDump(deps, id);
          if (!dump) return json(res, 404, { error: `no proxy ${id}` });
          return json(res, 200, dump);
        }
        case '/debug/registryz':
          return json(res, 200, registryz(deps));
        case '/debug/configz':
          return json(res, 200, deps.store.list().map(redactConfig));
        default:
          return json(res, 404, { error: `unknown path ${url.pathname}`, paths: ['/ready', '/metrics', '/debug/syncz', '/debug/config_dump?proxyID=', '/debug/registryz', '/debug/configz'] });
      }
    } catch (err) {
      deps.log.error('debug handler failed', { path: url.pathname, error: err as Error });
      json(res, 500, { error: (err as Error).message });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
