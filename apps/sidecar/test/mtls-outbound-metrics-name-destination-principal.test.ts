/**
 * The client sidecar's outbound istio_requests_total names the server's SPIFFE id in destination_principal
 * when the hop is mutual TLS (the server sidecar names itself in its metadata exchange answer, only to a
 * client that proved its own identity), and "unknown" over plaintext. Certificates from the real Citadel
 * binary, configuration from a real AdsServer.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { clusterLoadAssignment, edsCluster, routeConfiguration, virtualHost } from '@mesh/xds';
import { listener, request } from './helpers';
import { inboundListener, istioMutual, spiffe, startEchoBackend, startMesh, type Mesh, type Sidecar } from './mtls-harness';

const SERVER = spiffe('shop', 'server');
const MTLS = 'outbound|80||server.shop.svc.cluster.local';
const PLAIN = 'outbound|81||server.shop.svc.cluster.local';

/** The client's outbound (reporter="source") istio_requests_total lines. */
function outboundLines(sc: Sidecar): string[] {
  return sc.proxy.stats.prometheus([]).split('\n').filter((l) => l.startsWith('istio_requests_total{') && l.includes('reporter="source"'));
}

describe('outbound HTTP metrics name the destination principal over mutual TLS', () => {
  let mesh: Mesh;
  let server: Sidecar;
  let client: Sidecar;
  let backend: Awaited<ReturnType<typeof startEchoBackend>>;

  before(async () => {
    mesh = await startMesh();
    backend = await startEchoBackend();
    server = await mesh.sidecar('shop', 'server');
    await server.push({
      listeners: [inboundListener('strict', 'STRICT', {}), inboundListener('permissive', 'PERMISSIVE', {})],
      routes: [routeConfiguration('inbound', [virtualHost('inbound', ['*'], [{ match: { prefix: '/' }, route: { cluster: 'inbound|8080||' } }])])],
      clusters: [edsCluster({ name: 'inbound|8080||', connectTimeoutMs: 1000 })],
      endpoints: [clusterLoadAssignment('inbound|8080||', [{ address: '127.0.0.1', port: backend.port }])],
    });
    client = await mesh.sidecar('shop', 'client');
    await client.push({
      listeners: [listener('outbound', 'outbound')],
      routes: [routeConfiguration('outbound', [virtualHost('all', ['*'], [
        { match: { prefix: '/mtls' }, route: { cluster: MTLS } },
        { match: { prefix: '/plain' }, route: { cluster: PLAIN } },
      ])])],
      clusters: [{ ...edsCluster({ name: MTLS, connectTimeoutMs: 1000 }), ...istioMutual([SERVER], 'outbound_.80_._.server.shop.svc.cluster.local') }, edsCluster({ name: PLAIN, connectTimeoutMs: 1000 })],
      endpoints: [
        clusterLoadAssignment(MTLS, [{ address: '127.0.0.1', port: server.port('strict') }]),
        clusterLoadAssignment(PLAIN, [{ address: '127.0.0.1', port: server.port('permissive') }]),
      ],
    });
  });

  after(async () => {
    await mesh?.stop();
    await backend?.close();
  });

  it('mTLS hop: destination_principal is the server identity at the client (and at the server)', async () => {
    for (let i = 0; i < 2; i++) assert.equal((await request(client.port('outbound'), { path: '/mtls' })).status, 200);
    const all = outboundLines(client);
    const named = all.filter((l) => l.includes(`destination_principal="${SERVER}"`));
    assert.equal(named.length, 1, `client lines:\n${all.join('\n')}`);
    assert.match(named[0], / 2$/, 'both requests counted under the server principal');
    const inbound = server.proxy.stats.prometheus([]).split('\n').filter((l) => l.startsWith('istio_requests_total{') && l.includes('connection_security_policy="mutual_tls"'));
    assert.ok(inbound.some((l) => l.includes(`destination_principal="${SERVER}"`)), 'the server reports the same principal for itself');
  });

  it('plaintext hop: the server does not claim an identity; destination_principal stays "unknown"', async () => {
    const before = outboundLines(client).filter((l) => l.includes('destination_principal="unknown"'));
    assert.equal(before.length, 0, `nothing was plaintext yet:\n${before.join('\n')}`);
    assert.equal((await request(client.port('outbound'), { path: '/plain' })).status, 200);
    const after = outboundLines(client);
    const plain = after.filter((l) => l.includes('destination_principal="unknown"'));
    assert.equal(plain.length, 1, `client lines:\n${after.join('\n')}`);
    assert.match(plain[0], /destination_workload="server-1"/, 'the plaintext hop still exchanged metadata (workload), only without a principal');
    assert.match(plain[0], / 1$/);
  });
});
