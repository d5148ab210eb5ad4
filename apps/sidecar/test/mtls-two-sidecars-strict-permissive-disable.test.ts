/**
 * Two sidecars with their own identities from the real Citadel binary, configured by a real AdsServer with
 * Istio-shaped resources: the client sidecar reaches the server sidecar over mutual TLS (SDS 'default' /
 * 'ROOTCA' from each node agent) and each checks the other's SPIFFE identity (the server by RBAC on the
 * principal, the client by the SAN match); STRICT refuses plaintext, PERMISSIVE accepts both, DISABLE sends
 * plaintext; rotations on either side keep requests working and new handshakes carry the new certificate.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import path from 'node:path';
import * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { clusterLoadAssignment, edsCluster, http2ProtocolOptions, httpRbacFilter, networkRbacFilter, socketListener, typedConfig, routeConfiguration, virtualHost } from '@mesh/xds';
import { removeDir, tempDir, waitFor } from './agent-harness';
import { listener, request } from './helpers';
import { directRequest, inboundListener, istioMutual, spiffe, startEchoBackend, startMesh, type Mesh, type Sidecar } from './mtls-harness';

const CLIENT = spiffe('shop', 'client');
const SERVER = spiffe('shop', 'server');

/** An outbound TCP listener on 127.0.0.1:0 proxying to `cluster`. */
function tcpOut(name: string, cluster: string): object {
  const tcpProxy = { name: 'envoy.filters.network.tcp_proxy', typed_config: typedConfig('type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', { stat_prefix: name, cluster }) };
  return socketListener({ name, address: '127.0.0.1', port: 0, filterChains: [{ filters: [tcpProxy as never] }] });
}

/** Sends a line through a TCP listener; resolves with what came back before the connection closed. */
function tcpRoundTrip(port: number): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const sock = net.connect({ host: '127.0.0.1', port }, () => sock.write('ping\n'));
    const timer = setTimeout(() => sock.destroy(), 5000);
    sock.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.includes('\n')) sock.end();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

describe('mutual TLS between two sidecars', () => {
  let mesh: Mesh;
  let server: Sidecar;
  let client: Sidecar;
  let backend: Awaited<ReturnType<typeof startEchoBackend>>;
  let capture: net.Server;
  let echo: net.Server;
  const captured: string[] = [];
  let dir = '';
  let accessLog = '';

  before(async () => {
    dir = tempDir('mtls-log-');
    accessLog = path.join(dir, 'client-access.log');
    mesh = await startMesh();
    backend = await startEchoBackend();
    // DISABLE's upstream: records the first bytes it receives, answers like an HTTP server.
    capture = net.createServer((s) => {
      s.once('data', (d: Buffer) => {
        captured.push(d.toString('latin1'));
        s.end('HTTP/1.1 200 OK\r\ncontent-length: 8\r\nconnection: close\r\n\r\ncaptured');
      });
      s.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => capture.listen(0, '127.0.0.1', resolve));
    echo = net.createServer((sock) => sock.pipe(sock).on('error', () => undefined));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));

    server = await mesh.sidecar('shop', 'server');
    // The server's AuthorizationPolicy: only the client's identity may call the STRICT port.
    const allowClient = httpRbacFilter({
      action: 'ALLOW',
      policies: { 'ns[shop]-policy[client-only]-rule[0]': { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { exact: CLIENT } } }] } },
    });
    await server.push({
      listeners: [
        inboundListener('strict', 'STRICT', { http: [allowClient] }),
        inboundListener('permissive', 'PERMISSIVE', {}),
        inboundListener('disable', 'DISABLE', {}),
        inboundListener('tcp', 'STRICT', { network: [networkRbacFilter({ action: 'ALLOW', policies: { 'client-only': { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { exact: CLIENT } } }] } } }, 'tcp.')], tcpCluster: 'inbound|9000||' }),
      ],
      routes: [routeConfiguration('inbound', [virtualHost('inbound', ['*'], [{ match: { prefix: '/' }, route: { cluster: 'inbound|8080||' } }])])],
      clusters: [edsCluster({ name: 'inbound|8080||', connectTimeoutMs: 1000 }), edsCluster({ name: 'inbound|9000||', connectTimeoutMs: 1000 })],
      endpoints: [
        clusterLoadAssignment('inbound|8080||', [{ address: '127.0.0.1', port: backend.port }]),
        clusterLoadAssignment('inbound|9000||', [{ address: '127.0.0.1', port: (echo.address() as net.AddressInfo).port }]),
      ],
    });

    client = await mesh.sidecar('shop', 'client', { accessLog });
    const sni = 'outbound_.80_._.server.shop.svc.cluster.local';
    const to = (name: string, port: number, tlsCfg?: object) => ({
      cluster: { ...edsCluster({ name, connectTimeoutMs: 1000 }), ...tlsCfg },
      endpoints: clusterLoadAssignment(name, [{ address: '127.0.0.1', port }]),
    });
    const clusters = [
      to('strict', server.port('strict'), istioMutual([SERVER], sni)),
      { ...to('h2-strict', server.port('strict'), istioMutual([SERVER], sni)), http2: true },
      to('permissive', server.port('permissive'), istioMutual([SERVER], sni)),
      to('wrong-san', server.port('strict'), istioMutual([spiffe('shop', 'impostor')], sni)),
      to('plain-to-strict', server.port('strict')),
      to('disable', (capture.address() as net.AddressInfo).port),
    ];
    const tcpClusters = [to('tcp-mtls', server.port('tcp'), istioMutual([SERVER], sni)), to('tcp-wrong-san', server.port('tcp'), istioMutual([spiffe('shop', 'impostor')], sni))];
    await client.push({
      listeners: [listener('outbound', 'outbound'), tcpOut('tcp-out', 'tcp-mtls'), tcpOut('tcp-bad', 'tcp-wrong-san')],
      routes: [routeConfiguration('outbound', [virtualHost('all', ['*'], clusters.map((c) => ({ match: { prefix: `/${c.cluster.name}` }, route: { cluster: c.cluster.name } })))])],
      clusters: [...clusters.map((c) => ('http2' in c ? { ...c.cluster, typed_extension_protocol_options: http2ProtocolOptions() } : c.cluster)), ...tcpClusters.map((c) => c.cluster)],
      endpoints: [...clusters, ...tcpClusters].map((c) => c.endpoints),
    });
  });

  after(async () => {
    await mesh?.stop();
    await backend?.close();
    if (capture) await new Promise((r) => capture.close(r));
    if (echo) await new Promise((r) => echo.close(r));
    removeDir(dir);
  });

  it('client sidecar -> server sidecar over mTLS; the server sees the client identity (RBAC by principal)', async () => {
    const r = await request(client.port('outbound'), { path: '/strict/hello' });
    assert.equal(r.status, 200, r.body);
    assert.equal(JSON.parse(r.body).url, '/strict/hello');
    assert.ok(server.proxy.stats.server.rbac_allowed >= 1, 'the server authorized the client principal');
    // Another workload's identity is authenticated but not authorized.
    const other = await mesh.agent('shop', 'stranger');
    const denied = await directRequest(server.port('strict'), other, '/strict/hello');
    assert.equal(denied.status, 403);
    assert.equal(denied.body, 'RBAC: access denied');
  });

  it('HTTP/2 upstream over mTLS reaches the same STRICT port', async () => {
    const r = await request(client.port('outbound'), { path: '/h2-strict/x' });
    assert.equal(r.status, 200, r.body);
    assert.equal(JSON.parse(r.body).url, '/h2-strict/x');
  });

  it("the client checks the server's SPIFFE identity: a SAN mismatch fails the connection (503 UF)", async () => {
    const before = backend.seen.length;
    const r = await request(client.port('outbound'), { path: '/wrong-san' });
    assert.equal(r.status, 503);
    assert.equal(backend.seen.length, before, 'nothing reached the backend');
    const line = await waitFor('access log line', () => {
      const lines = readFileSync(accessLog, 'utf8').trim().split('\n').filter((l) => l.includes('/wrong-san'));
      return lines.length > 0 ? (JSON.parse(lines[0]) as { response_flags: string }) : undefined;
    }, 5000);
    assert.match(line.response_flags, /UF/);
  });

  it('the server presents its own SPIFFE certificate and requires a client certificate', async () => {
    const id = await new Promise<string>((resolve, reject) => {
      const c = client.agent.current();
      const s = tls.connect({ host: '127.0.0.1', port: server.port('strict'), cert: c.certChainPem, key: c.privateKeyPem, ca: c.rootCertPem, checkServerIdentity: () => undefined, ALPNProtocols: ['http/1.1'] }, () => {
        const sans = s.getPeerCertificate().subjectaltname ?? '';
        s.end();
        resolve(sans);
      });
      s.on('error', reject);
    });
    assert.match(id, new RegExp(`URI:${SERVER}`));
    // No client certificate: refused (at the handshake or on the first read under TLS 1.3).
    await assert.rejects(
      new Promise((resolve, reject) => {
        const req = https.request({ host: '127.0.0.1', port: server.port('strict'), path: '/no-cert', servername: 'server.shop', ca: client.agent.current().rootCertPem, checkServerIdentity: () => undefined, agent: false }, resolve);
        req.on('error', reject);
        req.end();
      }),
    );
    assert.ok(!backend.seen.includes('/no-cert'));
  });

  it('STRICT refuses plaintext, directly and from a cluster without TLS', async () => {
    await assert.rejects(directRequest(server.port('strict'), undefined, '/plain'));
    const r = await request(client.port('outbound'), { path: '/plain-to-strict' });
    assert.equal(r.status, 503);
    assert.ok(!backend.seen.includes('/plain') && !backend.seen.includes('/plain-to-strict'));
  });

  it('PERMISSIVE accepts mTLS and plaintext on the same port', async () => {
    const viaMtls = await request(client.port('outbound'), { path: '/permissive/m' });
    assert.equal(viaMtls.status, 200, viaMtls.body);
    const plain = await directRequest(server.port('permissive'), undefined, '/permissive/p');
    assert.equal(plain.status, 200);
    assert.ok(backend.seen.includes('/permissive/m') && backend.seen.includes('/permissive/p'));
  });

  it('DISABLE sends plaintext, and a DISABLE listener serves plaintext', async () => {
    const r = await request(client.port('outbound'), { path: '/disable' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'captured');
    assert.ok(captured.some((c) => c.startsWith('GET /disable HTTP/1.1')), `upstream saw ${JSON.stringify(captured)}`);
    const plain = await directRequest(server.port('disable'), undefined, '/d');
    assert.equal(plain.status, 200);
  });

  it('TCP over mTLS: the client sidecar originates TLS, the server authorizes the principal; a SAN mismatch closes', async () => {
    assert.equal(await tcpRoundTrip(client.port('tcp-out')), 'ping\n');
    assert.equal(await tcpRoundTrip(client.port('tcp-bad')), '');
  });

  it('after both agents rotate, new handshakes carry the new certificates and requests still work', async () => {
    const oldServer = server.agent.current().serialNumber;
    await server.agent.rotateNow();
    await client.agent.rotateNow();
    assert.notEqual(server.agent.current().serialNumber, oldServer);
    const serial = await new Promise<string>((resolve, reject) => {
      const c = client.agent.current();
      const s = tls.connect({ host: '127.0.0.1', port: server.port('strict'), cert: c.certChainPem, key: c.privateKeyPem, ca: c.rootCertPem, checkServerIdentity: () => undefined }, () => {
        const sn = s.getPeerCertificate().serialNumber;
        s.end();
        resolve(sn);
      });
      s.on('error', reject);
    });
    assert.equal(serial.toUpperCase(), server.agent.current().serialNumber.toUpperCase());
    for (let i = 0; i < 5; i++) {
      const r = await request(client.port('outbound'), { path: `/strict/after-rotation-${i}` });
      assert.equal(r.status, 200, r.body);
    }
  });
});
