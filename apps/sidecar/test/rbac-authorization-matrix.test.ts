/**
 * AuthorizationPolicy as Pilot emits it (Envoy RBAC v3: a DENY filter, then an ALLOW filter, then a LOG
 * filter for AUDIT) enforced by a sidecar on a STRICT mTLS port, with callers holding real identities
 * from Citadel: allow by principal, deny by path, deny by namespace, allow on a header condition, audit
 * never denies; the network RBAC filter closes a denied TCP connection; counters and the access log
 * record the denials.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import path from 'node:path';
import * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { clusterLoadAssignment, edsCluster, httpRbacFilter, networkRbacFilter, routeConfiguration, virtualHost } from '@mesh/xds';
import type { NodeAgent } from '../src/agent';
import { removeDir, tempDir, waitFor } from './agent-harness';
import { directRequest, inboundListener, spiffe, startEchoBackend, startMesh, type Mesh, type Sidecar } from './mtls-harness';

describe('RBAC: AuthorizationPolicy matrix on a sidecar', () => {
  let mesh: Mesh;
  let server: Sidecar;
  let backend: Awaited<ReturnType<typeof startEchoBackend>>;
  let echo: net.Server;
  let dir = '';
  let accessLog = '';
  const ids: Record<string, NodeAgent> = {};
  let resources: Record<string, object[]> = {};

  before(async () => {
    dir = tempDir('rbac-log-');
    accessLog = path.join(dir, 'server-access.log');
    mesh = await startMesh();
    backend = await startEchoBackend();
    echo = net.createServer((s) => s.pipe(s).on('error', () => undefined));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    server = await mesh.sidecar('shop', 'server', { accessLog });
    ids.client = await mesh.agent('shop', 'client');
    ids.reader = await mesh.agent('shop', 'reader');
    ids.outsider = await mesh.agent('other', 'client');

    const deny = httpRbacFilter({
      action: 'DENY',
      policies: {
        'ns[shop]-policy[deny-admin]-rule[0]': { permissions: [{ url_path: { path: { prefix: '/admin' } } }], principals: [{ any: true }] },
        'ns[shop]-policy[deny-other-ns]-rule[0]': {
          permissions: [{ any: true }],
          principals: [{ authenticated: { principal_name: { safe_regex: { regex: '.*/ns/other/.*' } } } }],
        },
      },
    });
    const allow = httpRbacFilter({
      action: 'ALLOW',
      policies: {
        'ns[shop]-policy[allow-client]-rule[0]': { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { exact: spiffe('shop', 'client') } } }] },
        'ns[shop]-policy[allow-with-token]-rule[0]': {
          permissions: [{ and_rules: { rules: [{ url_path: { path: { prefix: '/reports' } } }, { header: { name: 'x-token', string_match: { exact: 'let-me-in' } } }] } }],
          principals: [{ authenticated: { principal_name: { prefix: 'spiffe://cluster.local/ns/shop/' } } }],
        },
      },
    });
    const audit = httpRbacFilter({ action: 'LOG', policies: { 'ns[shop]-policy[audit-all]-rule[0]': { permissions: [{ any: true }], principals: [{ any: true }] } } });
    const tcpAllow = networkRbacFilter(
      { action: 'ALLOW', policies: { 'ns[shop]-policy[tcp-client]-rule[0]': { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { exact: spiffe('shop', 'client') } } }] } } },
      'tcp.',
    );
    resources = {
      listeners: [inboundListener('http', 'STRICT', { http: [deny, allow, audit] }), inboundListener('tcp', 'STRICT', { network: [tcpAllow], tcpCluster: 'inbound|9000||' })],
      routes: [routeConfiguration('inbound', [virtualHost('inbound', ['*'], [{ match: { prefix: '/' }, route: { cluster: 'inbound|8080||' } }])])],
      clusters: [edsCluster({ name: 'inbound|8080||', connectTimeoutMs: 1000 }), edsCluster({ name: 'inbound|9000||', connectTimeoutMs: 1000 })],
      endpoints: [
        clusterLoadAssignment('inbound|8080||', [{ address: '127.0.0.1', port: backend.port }]),
        clusterLoadAssignment('inbound|9000||', [{ address: '127.0.0.1', port: (echo.address() as net.AddressInfo).port }]),
      ],
    };
    await server.push(resources);
  });

  after(async () => {
    await mesh?.stop();
    await backend?.close();
    if (echo) await new Promise((r) => echo.close(r));
    removeDir(dir);
  });

  const cases: { who: string; path: string; headers?: Record<string, string>; status: number; why: string }[] = [
    { who: 'client', path: '/orders', status: 200, why: 'allowed by principal' },
    { who: 'client', path: '/admin/users', status: 403, why: 'denied by path, whoever asks' },
    { who: 'outsider', path: '/orders', status: 403, why: 'denied by namespace' },
    { who: 'reader', path: '/orders', status: 403, why: 'matches no ALLOW policy' },
    { who: 'reader', path: '/reports/q3', status: 403, why: 'header condition not met' },
    { who: 'reader', path: '/reports/q3', headers: { 'x-token': 'let-me-in' }, status: 200, why: 'allowed on the header condition' },
    { who: 'outsider', path: '/reports/q3', headers: { 'x-token': 'let-me-in' }, status: 403, why: 'DENY wins over ALLOW' },
  ];

  for (const c of cases) {
    it(`${c.who} ${c.path}${c.headers ? ' with x-token' : ''} -> ${c.status} (${c.why})`, async () => {
      const seen = backend.seen.length;
      const r = await directRequest(server.port('http'), ids[c.who], c.path, c.headers);
      assert.equal(r.status, c.status, r.body);
      if (c.status === 403) {
        assert.equal(r.body, 'RBAC: access denied');
        assert.equal(backend.seen.length, seen, 'a denied request never reaches the backend');
      } else assert.equal(backend.seen.at(-1), c.path);
    });
  }

  it('counts decisions and flags denials in the access log', async () => {
    const counters = server.proxy.stats.server;
    assert.equal(counters.rbac_denied, cases.filter((c) => c.status === 403).length);
    // An allowed request passes the DENY and the ALLOW filter (2 allowed) and is audited by LOG (1 logged);
    // the two reader requests that the ALLOW filter refuses passed the DENY filter first.
    const allowed = cases.filter((c) => c.status === 200).length;
    assert.equal(counters.rbac_allowed, 2 * allowed + 2);
    assert.equal(counters.rbac_logged, allowed);
    const lines = await waitFor('access log lines', () => {
      const l = readFileSync(accessLog, 'utf8').trim().split('\n').filter(Boolean);
      return l.length >= cases.length ? l.map((x) => JSON.parse(x) as { path: string; response_code: number; response_flags: string }) : undefined;
    }, 5000);
    const admin = lines.find((l) => l.path === '/admin/users');
    assert.equal(admin?.response_code, 403);
    assert.equal(admin?.response_flags, 'RBAC');
    assert.equal(lines.find((l) => l.path === '/orders' && l.response_code === 200)?.response_flags, '-');
  });

  /** Opens mTLS to the TCP port as `who`, sends a line, resolves with what came back before close. */
  function tcpRoundTrip(who: NodeAgent): Promise<string> {
    return new Promise((resolve) => {
      const c = who.current();
      let got = '';
      const s = tls.connect({ host: '127.0.0.1', port: server.port('tcp'), servername: 'server.shop', cert: c.certChainPem, key: c.privateKeyPem, ca: c.rootCertPem, checkServerIdentity: () => undefined, ALPNProtocols: ['istio'] });
      const timer = setTimeout(() => s.destroy(), 5000);
      s.on('secureConnect', () => s.write('ping\n'));
      s.on('data', (d: Buffer) => {
        got += d.toString();
        if (got.includes('\n')) s.end();
      });
      s.on('error', () => undefined);
      s.on('close', () => {
        clearTimeout(timer);
        resolve(got);
      });
    });
  }

  it('network RBAC: the allowed principal gets a TCP round trip, another identity is closed', async () => {
    assert.equal(await tcpRoundTrip(ids.client), 'ping\n');
    const before = server.proxy.stats.server.rbac_denied;
    assert.equal(await tcpRoundTrip(ids.reader), '');
    assert.equal(server.proxy.stats.server.rbac_denied, before + 1);
  });

  it('a changed policy applies to new requests on the same port (chains updated in place)', async () => {
    const port = server.port('http');
    const denyOrders = httpRbacFilter({
      action: 'DENY',
      policies: { 'ns[shop]-policy[deny-orders]-rule[0]': { permissions: [{ url_path: { path: { prefix: '/orders' } } }], principals: [{ any: true }] } },
    });
    await server.push({ ...resources, listeners: [inboundListener('http', 'STRICT', { http: [denyOrders] }), resources.listeners[1]] });
    assert.equal(server.port('http'), port);
    assert.equal((await directRequest(port, ids.client, '/orders')).status, 403);
    // The ALLOW filter is gone: an identity it refused before is now let through elsewhere.
    assert.equal((await directRequest(port, ids.reader, '/elsewhere')).status, 200);
  });
});
