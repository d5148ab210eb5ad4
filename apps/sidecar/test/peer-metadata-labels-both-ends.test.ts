/**
 * Metadata exchange between two sidecars (certificates from the real Citadel binary, configuration from a
 * real AdsServer): the client's outbound istio_requests_total names the server's workload, the server's
 * inbound names the client's, principals and connection_security_policy follow mutual TLS, and the
 * x-envoy-peer-metadata headers never reach the app or the downstream client (even when an app sends them).
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { clusterLoadAssignment, edsCluster, routeConfiguration, virtualHost } from '@mesh/xds';
import { listener, request } from './helpers';
import { inboundListener, istioMutual, spiffe, startEchoBackend, startMesh, type Mesh, type Sidecar } from './mtls-harness';
import { decodePeer, PEER_METADATA, PEER_METADATA_ID } from '../src/peer-metadata';

const CLIENT = spiffe('shop', 'client');
const SERVER = spiffe('shop', 'server');
const MTLS = 'outbound|80||server.shop.svc.cluster.local';
const PLAIN = 'outbound|81||server.shop.svc.cluster.local';

/** The istio_requests_total lines of a sidecar that carry every label given. */
function requestLines(sc: Sidecar, labels: Record<string, string>): string[] {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return sc.proxy.stats
    .prometheus([])
    .split('\n')
    .filter((l) => l.startsWith('istio_requests_total{') && want.every((w) => l.includes(w)));
}

function total(lines: string[]): number {
  return lines.reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

describe('peer metadata exchange fills both ends of each hop', () => {
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
    const sni = 'outbound_.80_._.server.shop.svc.cluster.local';
    await client.push({
      listeners: [listener('outbound', 'outbound')],
      routes: [routeConfiguration('outbound', [virtualHost('all', ['*'], [
        { match: { prefix: '/mtls' }, route: { cluster: MTLS } },
        { match: { prefix: '/plain' }, route: { cluster: PLAIN } },
      ])])],
      clusters: [{ ...edsCluster({ name: MTLS, connectTimeoutMs: 1000 }), ...istioMutual([SERVER], sni) }, edsCluster({ name: PLAIN, connectTimeoutMs: 1000 })],
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

  it('over mTLS: destination_workload at the client, source_workload and principals at the server, headers stripped', async () => {
    // The app tries to pass itself off as someone else: the client sidecar drops its headers.
    const spoof = Buffer.from(JSON.stringify({ WORKLOAD_NAME: 'impostor', NAMESPACE: 'evil' })).toString('base64');
    for (let i = 0; i < 3; i++) {
      const r = await request(client.port('outbound'), { path: '/mtls', headers: { [PEER_METADATA]: spoof, [PEER_METADATA_ID]: 'impostor' } });
      assert.equal(r.status, 200, r.body);
      assert.equal(r.headers[PEER_METADATA], undefined, 'the downstream client never sees the server sidecar metadata');
      assert.equal(r.headers[PEER_METADATA_ID], undefined);
      const seen = (JSON.parse(r.body) as { headers: Record<string, string> }).headers;
      assert.equal(seen[PEER_METADATA], undefined, 'the upstream app never sees the client sidecar metadata');
      assert.equal(seen[PEER_METADATA_ID], undefined);
    }
    const out = requestLines(client, { reporter: 'source', destination_service: 'server.shop.svc.cluster.local', response_code: '200' });
    assert.equal(total(out), 3, out.join('\n'));
    for (const l of out) {
      for (const want of ['source_workload="client-1"', 'source_app="client"', 'destination_workload="server-1"', 'destination_workload_namespace="shop"', 'destination_app="server"', 'destination_version="v1"', 'destination_cluster="Kubernetes"', 'connection_security_policy="unknown"']) {
        assert.ok(l.includes(want), `client outbound has ${want}: ${l}`);
      }
    }
    const inb = requestLines(server, { reporter: 'destination', response_code: '200', connection_security_policy: 'mutual_tls' });
    assert.equal(total(inb), 3, server.proxy.stats.prometheus([]).split('\n').filter((l) => l.startsWith('istio_requests_total')).join('\n'));
    for (const l of inb) {
      for (const want of ['source_workload="client-1"', 'source_workload_namespace="shop"', 'source_app="client"', 'source_version="v1"', `source_principal="${CLIENT}"`, 'destination_workload="server-1"', `destination_principal="${SERVER}"`]) {
        assert.ok(l.includes(want), `server inbound has ${want}: ${l}`);
      }
      assert.ok(!l.includes('impostor'), l);
    }
  });

  it('over plaintext (PERMISSIVE): workloads still exchanged, no principal, policy none', async () => {
    const r = await request(client.port('outbound'), { path: '/plain' });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers[PEER_METADATA], undefined);
    const inb = requestLines(server, { reporter: 'destination', connection_security_policy: 'none' });
    assert.equal(total(inb), 1, inb.join('\n'));
    assert.ok(inb[0].includes('source_workload="client-1"') && inb[0].includes('source_principal="unknown"'), inb[0]);
    const out = requestLines(client, { reporter: 'source', destination_workload: 'server-1', destination_service: 'server.shop.svc.cluster.local' });
    assert.equal(total(out), 4, out.join('\n'));
  });

  it('a malformed peer header is an unknown peer, not an error', () => {
    assert.equal(decodePeer('%%%not base64').workload, 'unknown');
    assert.equal(decodePeer(Buffer.from('[1,2]').toString('base64')).workload, 'unknown');
    assert.equal(decodePeer(Buffer.from('{"WORKLOAD_NAME":"a","LABELS":{"app":"b"}}').toString('base64')).app, 'b');
  });
});
