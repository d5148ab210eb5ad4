/**
 * HTTP/1.1 upgrades: with upgrade_configs [websocket] the upgrade request reaches the routed backend, its
 * 101 comes back and bytes flow both ways; without upgrade_configs the proxy answers 403 as Envoy does.
 */
import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { clusterLoadAssignment, edsCluster, routeConfiguration, virtualHost, clusterRoute } from '@mesh/xds';
import { listener, startHarness, type Harness } from './helpers';

function upgrade(port: number, send: string): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    let got = '';
    const done = (): void => {
      c.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, 3000);
    c.on('data', (d) => {
      got += d.toString();
      if (got.includes('\r\n\r\n') && !got.startsWith('HTTP/1.1 101')) {
        clearTimeout(timer);
        done();
      } else if (got.includes(`echo:${send}`)) {
        clearTimeout(timer);
        done();
      }
    });
    c.on('error', () => undefined);
    c.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    c.write('GET /chat HTTP/1.1\r\nHost: svc.local\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    c.once('data', () => c.write(send));
  });
}

describe('websocket upgrade', () => {
  let backend: http.Server;
  let h: Harness;
  let seenUpgrade = '';
  const tunnels = new Set<net.Socket>();

  before(async () => {
    backend = http.createServer((_req, res) => res.end('plain'));
    backend.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
      seenUpgrade = String(req.headers.upgrade);
      tunnels.add(socket);
      // http.Server sockets are half-open capable: end our side when the proxy ends its side.
      socket.once('end', () => socket.end());
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      socket.on('data', (d) => socket.write(`echo:${d.toString()}`));
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    const port = (backend.address() as net.AddressInfo).port;
    const C = 'outbound|80||ws.default.svc.cluster.local';
    const routes = routeConfiguration('http.80', [virtualHost('all', ['*'], [clusterRoute('/', C)])]);
    h = await startHarness({
      listeners: [listener('ws', 'http.80', [], { upgrade_configs: [{ upgrade_type: 'websocket' }] }), listener('plain', 'http.80')],
      routes: [routes],
      clusters: [edsCluster({ name: C })],
      endpoints: [clusterLoadAssignment(C, [{ address: '127.0.0.1', port }])],
    });
  });

  after(async () => {
    await h?.stop();
    for (const t of tunnels) t.destroy();
    backend?.closeAllConnections();
    await new Promise<void>((resolve) => backend?.close(() => resolve()));
  });

  it('tunnels an allowed upgrade to the routed backend', async () => {
    const got = await upgrade(h.port('ws'), 'ping');
    assert.match(got, /^HTTP\/1\.1 101 /);
    assert.ok(got.includes('echo:ping'), got);
    assert.equal(seenUpgrade, 'websocket');
    // The client is gone: the proxy must close the upstream side of the tunnel too.
    const deadline = Date.now() + 3000;
    while ([...tunnels].some((t) => !t.destroyed) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok([...tunnels].every((t) => t.destroyed), 'upstream tunnel left open');
  });

  it('refuses the upgrade with 403 when the HCM does not allow it', async () => {
    const got = await upgrade(h.port('plain'), 'ping');
    assert.match(got, /^HTTP\/1\.1 403 /);
  });
});
