/**
 * HTTP/1.1 upgrades (WebSocket and other upgrade_configs types): after the route match, the request head
 * is replayed to an upstream host and the two sockets are joined byte for byte (the upstream's 101 goes
 * back as it is). Refused with 403 when the listener's HCM does not allow the upgrade type, as Envoy does.
 */
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type { ClusterManager, UpstreamHost } from './cluster-manager';
import type { HcmConfig } from './config-listener';
import type { RouteTable } from './config-route';
import { copyEndToEnd } from './header-mutation';
import { matchRoute, RouteQuery, selectVirtualHost } from './route-match';

function reply(socket: Duplex, status: number, reason: string, body: string): void {
  if (socket.writable) socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  else socket.destroy();
}

/** The parts of the upgrade request the tunnel reads. */
export interface UpgradeRequest {
  method: string;
  url: string;
  headers: import('node:http').IncomingHttpHeaders;
}

export function tunnelUpgrade(
  req: UpgradeRequest,
  socket: Duplex,
  head: Buffer,
  config: HcmConfig,
  table: RouteTable | undefined,
  clusters: ClusterManager,
): void {
  socket.on('error', () => undefined);
  const type = String(req.headers.upgrade ?? '').toLowerCase();
  if (!config.upgradeTypes.includes(type)) {
    reply(socket, 403, 'Forbidden', 'upgrade not allowed');
    return;
  }
  const url = req.url ?? '/';
  const qi = url.indexOf('?');
  const q = new RouteQuery(req.method ?? 'GET', qi < 0 ? url : url.slice(0, qi), qi < 0 ? '' : url.slice(qi + 1), req.headers.host ?? '', 'http', req.headers);
  const vh = table ? selectVirtualHost(table, q.authority) : undefined;
  const route = vh ? matchRoute(vh, q) : undefined;
  if (!route || route.action.kind !== 'route') {
    reply(socket, 404, 'Not Found', '');
    return;
  }
  const action = route.action;
  let r = Math.random() * action.totalWeight;
  const wc = action.clusters.find((c) => (r -= c.weight) < 0) ?? action.clusters[action.clusters.length - 1];
  const cluster = wc ? clusters.get(wc.name) : undefined;
  const host = cluster?.lb.pick(cluster.available) as UpstreamHost | undefined;
  if (!cluster || !host || cluster.config.upstreamTls) {
    reply(socket, 503, 'Service Unavailable', 'no healthy upstream');
    return;
  }
  // End-to-end headers plus the upgrade pair itself (hop-by-hop, but it is the point of the request).
  const headers = copyEndToEnd(req.headers, false);
  headers.connection = 'Upgrade';
  headers.upgrade = String(req.headers.upgrade);
  if (action.hostRewrite) headers.host = action.hostRewrite;
  let lines = `${q.method} ${url} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(headers)) for (const one of Array.isArray(v) ? v : [v]) lines += `${k}: ${one}\r\n`;
  const up = net.connect({ host: host.host, port: host.port, noDelay: true });
  const timer = setTimeout(() => up.destroy(), cluster.config.connectTimeoutMs);
  up.once('connect', () => {
    clearTimeout(timer);
    up.write(`${lines}\r\n`);
    if (head.length > 0) up.write(head);
    up.pipe(socket);
    socket.pipe(up);
  });
  up.on('error', () => {
    clearTimeout(timer);
    if (up.bytesRead === 0) reply(socket, 503, 'Service Unavailable', 'upstream connect error or disconnect/reset before headers. reset reason: connection failure');
    else socket.destroy();
  });
  up.once('close', () => socket.destroy());
  socket.once('close', () => up.destroy());
}
