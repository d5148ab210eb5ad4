/**
 * Certificate rotation under load, as issue 5 states it: both sidecars hold 30 s certificates from the real
 * Citadel binary (renewed at about half the lifetime by their agents, each on its own schedule) while
 * requests flow client sidecar -> server sidecar over mTLS at a constant 200 requests per second (open
 * loop: paced by the clock, not by replies) for 60 s. Every request sent must come back 200; both agents
 * must have renewed during the run; and a probe that handshakes with the server every 2 s must have seen
 * more than one server certificate serial (the peer sees the rotation, not just the agent). The run is
 * twice the certificate lifetime, so requests late in the run only pass on rotated certificates: the
 * client's upstream pools are rebuilt on each rotation (new handshakes with the new client certificate),
 * and the server's listener takes the new certificate for new handshakes.
 */
import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { clusterLoadAssignment, edsCluster, routeConfiguration, virtualHost } from '@mesh/xds';
import type { NodeAgent } from '../src/agent';
import { listener } from './helpers';
import { inboundListener, istioMutual, spiffe, startEchoBackend, startMesh, type Mesh, type Sidecar } from './mtls-harness';

const LIFETIME_S = 30;
const RATE_PER_S = 200;
const RUN_MS = 60_000;
const TOTAL = (RATE_PER_S * RUN_MS) / 1000;
const TICK_MS = 5;
/** How late the pacing loop may run past RUN_MS before it stops (a stalled event loop). */
const LATE_MS = 5000;
const PROBE_EVERY_MS = 2000;
/** Replies still outstanding when the pacing ends get this long to arrive. */
const DRAIN_MS = 10_000;

/** The serial of the certificate the server presents to a fresh mTLS handshake (as `who`). */
function serverSerial(port: number, who: NodeAgent): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = who.current();
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'server.shop', cert: c.certChainPem, key: c.privateKeyPem, ca: c.rootCertPem, checkServerIdentity: () => undefined, ALPNProtocols: ['http/1.1'] });
    const timer = setTimeout(() => s.destroy(new Error('probe handshake took over 5 s')), 5000);
    s.once('secureConnect', () => {
      clearTimeout(timer);
      const serial = s.getPeerCertificate().serialNumber;
      s.destroy();
      resolve(serial.toLowerCase());
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

describe('mTLS certificate rotation under load', () => {
  let mesh: Mesh;
  let server: Sidecar;
  let client: Sidecar;
  let prober: NodeAgent;
  let backend: Awaited<ReturnType<typeof startEchoBackend>>;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  before(async () => {
    mesh = await startMesh();
    backend = await startEchoBackend();
    server = await mesh.sidecar('shop', 'server', { validitySeconds: LIFETIME_S });
    await server.push({
      listeners: [inboundListener('strict', 'STRICT', {})],
      routes: [routeConfiguration('inbound', [virtualHost('inbound', ['*'], [{ match: { prefix: '/' }, route: { cluster: 'inbound|8080||' } }])])],
      clusters: [edsCluster({ name: 'inbound|8080||', connectTimeoutMs: 1000 })],
      endpoints: [clusterLoadAssignment('inbound|8080||', [{ address: '127.0.0.1', port: backend.port }])],
    });
    client = await mesh.sidecar('shop', 'client', { validitySeconds: LIFETIME_S });
    const name = 'outbound|80||server.shop.svc.cluster.local';
    await client.push({
      listeners: [listener('outbound', 'outbound')],
      routes: [routeConfiguration('outbound', [virtualHost('all', ['*'], [{ match: { prefix: '/' }, route: { cluster: name } }])])],
      clusters: [{ ...edsCluster({ name, connectTimeoutMs: 1000 }), ...istioMutual([spiffe('shop', 'server')], 'outbound_.80_._.server.shop.svc.cluster.local') }],
      endpoints: [clusterLoadAssignment(name, [{ address: '127.0.0.1', port: server.port('strict') }])],
    });
    prober = await mesh.agent('shop', 'prober');
  });

  after(async () => {
    agent.destroy();
    await mesh?.stop();
    await backend?.close();
  });

  /** One request through the client sidecar; resolves with the status, or 0 and the reason on failure. */
  function send(port: number, i: number): Promise<{ status: number; detail: string }> {
    return new Promise((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, path: `/r/${i}`, headers: { host: 'server.shop' }, agent, timeout: 15_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, detail: Buffer.concat(chunks).toString().slice(0, 120) }));
        res.on('error', (err) => resolve({ status: 0, detail: err.message }));
      });
      req.on('timeout', () => req.destroy(new Error('no reply within 15 s')));
      req.on('error', (err) => resolve({ status: 0, detail: err.message }));
      req.end();
    });
  }

  it(`sends ${TOTAL} requests at ${RATE_PER_S}/s for ${RUN_MS / 1000} s with ${LIFETIME_S} s certificates; every one is answered 200`, { timeout: RUN_MS + DRAIN_MS + 30_000 }, async () => {
    const firstServer = server.agent.current().serialNumber;
    const firstClient = client.agent.current().serialNumber;
    const lifetimeMs = server.agent.current().notAfter.getTime() - Date.now();
    assert.ok(lifetimeMs <= LIFETIME_S * 1000 + 1000, `asked for ${LIFETIME_S} s, got ${lifetimeMs} ms`);
    const port = client.port('outbound');
    const replies: Promise<{ status: number; detail: string }>[] = [];
    const probes: Promise<string>[] = [];
    const start = Date.now();
    // Open loop: each tick sends what the clock says is due, whatever is still in flight (a late timer
    // sends a small burst). Bounded by count (TOTAL, all due at RUN_MS) and time (RUN_MS + LATE_MS).
    while (replies.length < TOTAL && Date.now() - start <= RUN_MS + LATE_MS) {
      const due = Math.min(TOTAL, Math.floor(((Date.now() - start) * RATE_PER_S) / 1000));
      while (replies.length < due) replies.push(send(port, replies.length));
      if (probes.length * PROBE_EVERY_MS <= Date.now() - start) probes.push(serverSerial(server.port('strict'), prober).catch((err: Error) => `probe failed: ${err.message}`));
      await new Promise((r) => setTimeout(r, TICK_MS));
    }
    const elapsed = Date.now() - start;
    const results = await Promise.race([
      Promise.all(replies),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`replies still missing ${DRAIN_MS} ms after the last request`)), DRAIN_MS).unref()),
    ]);
    const failures = results.filter((r) => r.status !== 200);
    const ok = results.length - failures.length;
    const seen = await Promise.all(probes);

    assert.equal(results.length, TOTAL, `sent ${results.length} of ${TOTAL} in ${elapsed} ms`);
    assert.equal(ok, TOTAL, `${failures.length} of ${TOTAL} failed; first: ${failures.slice(0, 5).map((f) => `${f.status} ${f.detail}`).join(' | ')}`);
    assert.ok(backend.seen.length >= TOTAL, `the backend saw ${backend.seen.length} requests`);
    assert.ok(server.agent.status().rotations >= 1 && server.agent.current().serialNumber !== firstServer, 'the server agent renewed during the run');
    assert.ok(client.agent.status().rotations >= 1 && client.agent.current().serialNumber !== firstClient, 'the client agent renewed during the run');
    const failedProbes = seen.filter((s) => s.startsWith('probe failed'));
    assert.deepEqual(failedProbes, [], 'every probe handshake with the server succeeded');
    const serials = new Set(seen);
    assert.ok(serials.size >= 2, `the probe saw ${serials.size} server certificate(s) over ${seen.length} handshakes`);
  });
});
