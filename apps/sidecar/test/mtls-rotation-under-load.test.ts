/**
 * Certificate rotation under load: both sidecars hold 30 s certificates from the real Citadel (renewed at
 * about half the lifetime by their agents, on their own schedule), while requests flow client sidecar ->
 * server sidecar over mTLS at about 100 requests per second for 22 s. Every request must succeed and
 * both identities must have been renewed during the run.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { clusterLoadAssignment, edsCluster, routeConfiguration, virtualHost } from '@mesh/xds';
import { listener, request } from './helpers';
import { inboundListener, istioMutual, spiffe, startEchoBackend, startMesh, type Mesh, type Sidecar } from './mtls-harness';

const LIFETIME_S = 30;
const RUN_MS = 22_000;
const WORKERS = 5;
const PAUSE_MS = 40;

describe('mTLS certificate rotation under load', () => {
  let mesh: Mesh;
  let server: Sidecar;
  let client: Sidecar;
  let backend: Awaited<ReturnType<typeof startEchoBackend>>;

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
  });

  after(async () => {
    await mesh?.stop();
    await backend?.close();
  });

  it('loses no request while both sides renew their certificates', async () => {
    const serverSerial = server.agent.current().serialNumber;
    const clientSerial = client.agent.current().serialNumber;
    const lifetimeMs = server.agent.current().notAfter.getTime() - Date.now();
    assert.ok(lifetimeMs <= LIFETIME_S * 1000 + 1000, `asked for ${LIFETIME_S} s, got ${lifetimeMs} ms`);
    const deadline = Date.now() + RUN_MS;
    const failures: string[] = [];
    let ok = 0;
    const worker = async (w: number): Promise<void> => {
      // Bounded by count and by time.
      for (let i = 0; i < RUN_MS / PAUSE_MS && Date.now() < deadline; i++) {
        try {
          const r = await request(client.port('outbound'), { path: `/w${w}/${i}` });
          if (r.status === 200) ok++;
          else failures.push(`${r.status} ${r.body.slice(0, 120)}`);
        } catch (err) {
          failures.push((err as Error).message);
        }
        await new Promise((r) => setTimeout(r, PAUSE_MS));
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    assert.notEqual(server.agent.current().serialNumber, serverSerial, 'the server certificate was renewed during the run');
    assert.notEqual(client.agent.current().serialNumber, clientSerial, 'the client certificate was renewed during the run');
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${ok + failures.length} requests failed`);
    assert.ok(ok > 500, `only ${ok} requests completed`);
  });
});
