/**
 * Istio's TCP metrics over mutual TLS between two sidecars (certificates from the real Citadel binary,
 * configuration from a real AdsServer): the server's istio_tcp_connections_opened/closed_total name the
 * client's SPIFFE id (source_principal) from the TLS session with connection_security_policy mutual_tls;
 * the client's name the server's (destination_principal) from the upstream handshake. A connection the
 * network RBAC filter denies is counted opened and closed with flag RBAC and its caller's principal, and
 * the access log records it with Envoy's termination details rbac_access_denied_matched_policy[...].
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import path from 'node:path';
import * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { clusterLoadAssignment, edsCluster, networkRbacFilter, socketListener, typedConfig } from '@mesh/xds';
import type { NodeAgent } from '../src/agent';
import { removeDir, tempDir, waitFor } from './agent-harness';
import { inboundListener, istioMutual, spiffe, startMesh, type Mesh, type Sidecar } from './mtls-harness';

const CLIENT = spiffe('shop', 'client');
const SERVER = spiffe('shop', 'server');
const OUTBOUND = 'outbound|9000||server.shop.svc.cluster.local';

/** Lines of one metric whose labels include every given label. */
function metric(sc: Sidecar, name: string, labels: Record<string, string>): string[] {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return sc.proxy.stats
    .prometheus([])
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)));
}

function sum(lines: string[]): number {
  return lines.reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/** Sends a line over `socket` once connected; resolves with what came back before the close. */
function roundTrip(socket: net.Socket, connectEvent: 'connect' | 'secureConnect'): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const timer = setTimeout(() => socket.destroy(), 5000);
    socket.on(connectEvent, () => socket.write('ping\n'));
    socket.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.includes('\n')) socket.end();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

function mtlsTo(port: number, who: NodeAgent): tls.TLSSocket {
  const c = who.current();
  return tls.connect({ host: '127.0.0.1', port, servername: 'server.shop', cert: c.certChainPem, key: c.privateKeyPem, ca: c.rootCertPem, checkServerIdentity: () => undefined, ALPNProtocols: ['istio'] });
}

describe('TCP metrics carry TLS principals; network RBAC denials are counted and logged', () => {
  let mesh: Mesh;
  let server: Sidecar;
  let client: Sidecar;
  let echo: net.Server;
  let dir = '';
  let accessLog = '';
  const ids: Record<string, NodeAgent> = {};

  before(async () => {
    dir = tempDir('tcp-metrics-');
    accessLog = path.join(dir, 'server-access.log');
    mesh = await startMesh();
    echo = net.createServer((s) => s.pipe(s).on('error', () => undefined));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    server = await mesh.sidecar('shop', 'server', { accessLog });
    ids.reader = await mesh.agent('shop', 'reader');
    ids.outsider = await mesh.agent('other', 'client');
    const allowClient = networkRbacFilter(
      { action: 'ALLOW', policies: { 'ns[shop]-policy[tcp-client]-rule[0]': { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { exact: CLIENT } } }] } } },
      'tcp.',
    );
    const denyOther = networkRbacFilter(
      { action: 'DENY', policies: { 'ns[shop]-policy[deny-other]-rule[0]': { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { prefix: 'spiffe://cluster.local/ns/other/' } } }] } } },
      'tcp_deny.',
    );
    await server.push({
      listeners: [
        inboundListener('tcp', 'STRICT', { network: [allowClient], tcpCluster: 'inbound|9000||' }),
        inboundListener('tcp-deny', 'STRICT', { network: [denyOther], tcpCluster: 'inbound|9000||' }),
        inboundListener('tcp-permissive', 'PERMISSIVE', { tcpCluster: 'inbound|9000||' }),
      ],
      clusters: [edsCluster({ name: 'inbound|9000||', connectTimeoutMs: 1000 })],
      endpoints: [clusterLoadAssignment('inbound|9000||', [{ address: '127.0.0.1', port: (echo.address() as net.AddressInfo).port }])],
    });
    client = await mesh.sidecar('shop', 'client');
    const tcpProxy = { name: 'envoy.filters.network.tcp_proxy', typed_config: typedConfig('type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', { stat_prefix: 'outbound', cluster: OUTBOUND }) };
    await client.push({
      listeners: [socketListener({ name: 'outbound-tcp', address: '127.0.0.1', port: 0, filterChains: [{ filters: [tcpProxy] }], direction: 'OUTBOUND' })],
      clusters: [{ ...edsCluster({ name: OUTBOUND, connectTimeoutMs: 1000 }), ...istioMutual([SERVER], 'outbound_.9000_._.server.shop.svc.cluster.local') }],
      endpoints: [clusterLoadAssignment(OUTBOUND, [{ address: '127.0.0.1', port: server.port('tcp') }])],
    });
  });

  after(async () => {
    await mesh?.stop();
    if (echo) await new Promise((r) => echo.close(r));
    removeDir(dir);
  });

  it('client sidecar -> server sidecar over mTLS: principals on both reporters', async () => {
    assert.equal(await roundTrip(net.connect(client.port('outbound-tcp'), '127.0.0.1'), 'connect'), 'ping\n');
    await waitFor('server counted the close', () => (sum(metric(server, 'istio_tcp_connections_closed_total', { source_principal: CLIENT })) >= 1 ? true : undefined), 5000);
    const inbound = { reporter: 'destination', source_principal: CLIENT, destination_principal: SERVER, connection_security_policy: 'mutual_tls', response_flags: '-' };
    assert.equal(sum(metric(server, 'istio_tcp_connections_opened_total', inbound)), 1);
    assert.equal(sum(metric(server, 'istio_tcp_connections_closed_total', inbound)), 1);
    assert.equal(sum(metric(server, 'istio_tcp_received_bytes_total', inbound)), 5, 'the 5 bytes of "ping\\n" from the client');

    await waitFor('client counted the close', () => (sum(metric(client, 'istio_tcp_connections_closed_total', { reporter: 'source' })) >= 1 ? true : undefined), 5000);
    const outbound = { reporter: 'source', source_principal: CLIENT, destination_principal: SERVER, connection_security_policy: 'unknown', response_flags: '-' };
    assert.equal(sum(metric(client, 'istio_tcp_connections_opened_total', outbound)), 1, client.proxy.stats.prometheus([]));
    assert.equal(sum(metric(client, 'istio_tcp_connections_closed_total', outbound)), 1);
  });

  it('plaintext on a PERMISSIVE port: connection_security_policy none, no principal', async () => {
    assert.equal(await roundTrip(net.connect(server.port('tcp-permissive'), '127.0.0.1'), 'connect'), 'ping\n');
    const plain = { reporter: 'destination', source_principal: 'unknown', connection_security_policy: 'none', response_flags: '-' };
    await waitFor('plaintext close counted', () => (sum(metric(server, 'istio_tcp_connections_closed_total', plain)) === 1 ? true : undefined), 5000);
    assert.equal(sum(metric(server, 'istio_tcp_connections_opened_total', plain)), 1);
    assert.equal(sum(metric(server, 'istio_tcp_connections_opened_total', { connection_security_policy: 'mutual_tls', source_principal: 'unknown' })), 0, 'an mTLS connection always has a principal');
  });

  it('an identity the ALLOW policy does not name: closed, counted with flag RBAC and its principal, logged with the termination details', async () => {
    const reader = spiffe('shop', 'reader');
    assert.equal(await roundTrip(mtlsTo(server.port('tcp'), ids.reader), 'secureConnect'), '', 'no byte comes back from a denied connection');
    const denied = { reporter: 'destination', source_principal: reader, connection_security_policy: 'mutual_tls', response_flags: 'RBAC' };
    await waitFor('denial counted', () => (sum(metric(server, 'istio_tcp_connections_closed_total', denied)) === 1 ? true : undefined), 5000);
    assert.equal(sum(metric(server, 'istio_tcp_connections_opened_total', { source_principal: reader })), 1);
    assert.equal(sum(metric(server, 'istio_tcp_received_bytes_total', { source_principal: reader })), 0, 'nothing reached the upstream');
    const line = await waitFor('access log line', () => {
      const lines = readFileSync(accessLog, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      return lines.find((l) => l.downstream_peer_uri_san === reader);
    }, 5000);
    assert.equal(line.protocol, 'tcp');
    assert.equal(line.response_flags, 'RBAC');
    assert.equal(line.connection_termination_details, 'rbac_access_denied_matched_policy[none]');
    assert.equal(line.upstream_cluster, 'inbound|9000||');
  });

  it('a DENY policy that matches: the termination details name the policy', async () => {
    const outsider = spiffe('other', 'client');
    assert.equal(await roundTrip(mtlsTo(server.port('tcp-deny'), ids.outsider), 'secureConnect'), '');
    const line = await waitFor('access log line', () => {
      const lines = readFileSync(accessLog, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      return lines.find((l) => l.downstream_peer_uri_san === outsider);
    }, 5000);
    assert.equal(line.connection_termination_details, 'rbac_access_denied_matched_policy[ns[shop]-policy[deny-other]-rule[0]]');
    assert.equal(sum(metric(server, 'istio_tcp_connections_closed_total', { source_principal: outsider, response_flags: 'RBAC' })), 1);
    // The same port lets another identity through (DENY matched only the other namespace), logged without details.
    assert.equal(await roundTrip(mtlsTo(server.port('tcp-deny'), ids.reader), 'secureConnect'), 'ping\n');
    const allowed = await waitFor('allowed connection logged', () => {
      const lines = readFileSync(accessLog, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      return lines.find((l) => l.downstream_peer_uri_san === spiffe('shop', 'reader') && l.response_flags === '-');
    }, 5000);
    assert.equal(allowed.connection_termination_details, '-');
    assert.equal(allowed.bytes_received, 5);
  });
});
