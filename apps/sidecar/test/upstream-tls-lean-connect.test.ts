/**
 * TLS upstreams on the lean HTTP/1.1 client, against real Node TLS servers with certificates made by the
 * real openssl: keep-alive reuses one TLS connection, a reconnect resumes the TLS session, the connect
 * timeout covers the handshake (a peer that accepts TCP but never answers the ClientHello), and every
 * failure before the connection is ready (untrusted chain, peer gone mid-handshake) is a connect failure
 * (503, reset reason "connection failure", retried under connect-failure).
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { clusterLoadAssignment, edsCluster, routeConfiguration, upstreamTlsTransportSocket, virtualHost } from '@mesh/xds';
import { listener, request, startHarness, type Harness } from './helpers';

const SAN = 'spiffe://cluster.local/ns/default/sa/web';
const CONNECT_TIMEOUT_MS = 400;

describe('upstream TLS on the lean client', () => {
  let dir = '';
  let server: https.Server;
  let stall: net.Server;
  let hangUp: net.Server;
  const stalled: net.Socket[] = [];
  let hangUps = 0;
  let h: Harness;
  /** per TLS connection the server accepted: was its session resumed */
  const handshakes: boolean[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sidecar-utls-lean-'));
    const f = (n: string) => path.join(dir, n);
    const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
    for (const ca of ['ca', 'other-ca']) {
      ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f(`${ca}.key`), '-out', f(`${ca}.pem`), '-days', '1', '-subj', `/CN=${ca}`);
    }
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('web.key'), '-out', f('web.csr'), '-subj', '/CN=web');
    fs.writeFileSync(f('ext.cnf'), `subjectAltName=URI:${SAN}\n`);
    ssl('x509', '-req', '-in', f('web.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('web.pem'), '-days', '1', '-extfile', f('ext.cnf'));
    server = https.createServer({ cert: fs.readFileSync(f('web.pem')), key: fs.readFileSync(f('web.key')) }, (req, res) => {
      // ?close: the server ends the connection after the response, so the next request reconnects.
      res.writeHead(200, req.url?.endsWith('?close') ? { connection: 'close' } : {}).end('secure');
    });
    server.on('secureConnection', (s: tls.TLSSocket) => handshakes.push(s.isSessionReused()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    stall = net.createServer((s) => {
      stalled.push(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => stall.listen(0, '127.0.0.1', resolve));
    hangUp = net.createServer((s) => {
      hangUps++;
      s.once('data', () => s.destroy());
      s.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => hangUp.listen(0, '127.0.0.1', resolve));

    const trusted = (ca: string) => ({ trusted_ca: { inline_string: fs.readFileSync(f(ca), 'utf8') }, match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { prefix: 'spiffe://cluster.local/' } }] });
    // A client certificate whose key belongs to another certificate: no secure context can be made of it.
    const mismatched = [{ certificate_chain: { inline_string: fs.readFileSync(f('web.pem'), 'utf8') }, private_key: { inline_string: fs.readFileSync(f('ca.key'), 'utf8') } }];
    const tlsCluster = (name: string, ca: string) => ({
      ...edsCluster({ name, connectTimeoutMs: CONNECT_TIMEOUT_MS }),
      transport_socket: upstreamTlsTransportSocket({ common_tls_context: { validation_context: trusted(ca), ...(name === 'badkey' ? { tls_certificates: mismatched } : {}) } } as never),
    });
    const port = (s: net.Server) => (s.address() as net.AddressInfo).port;
    const clusters = [tlsCluster('ok', 'ca.pem'), tlsCluster('untrusted', 'other-ca.pem'), tlsCluster('stall', 'ca.pem'), tlsCluster('hangup', 'ca.pem'), tlsCluster('badkey', 'ca.pem')];
    const backends: Record<string, number> = { ok: port(server), untrusted: port(server), stall: port(stall), hangup: port(hangUp), badkey: port(server) };
    const routes = Object.keys(backends).map((n) => ({
      match: { prefix: `/${n}` },
      route: { cluster: n, ...(n === 'hangup' ? { retry_policy: { retry_on: 'connect-failure', num_retries: { value: 2 }, retry_back_off: { base_interval: { seconds: 0, nanos: 10_000_000 } } } } : {}) },
    }));
    h = await startHarness({
      listeners: [listener('http.80', 'http.80')],
      routes: [routeConfiguration('http.80', [virtualHost('all', ['*'], routes)])],
      clusters,
      endpoints: Object.entries(backends).map(([n, p]) => clusterLoadAssignment(n, [{ address: '127.0.0.1', port: p }])),
    });
  });

  after(async () => {
    await h?.stop();
    for (const s of stalled) s.destroy();
    server?.closeAllConnections();
    await Promise.all([server, stall, hangUp].map((s) => new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()))));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps one TLS connection alive across requests, and resumes the TLS session on a reconnect', async () => {
    const before = handshakes.length;
    for (let i = 0; i < 5; i++) {
      const r = await request(h.port('http.80'), { path: '/ok' });
      assert.equal(r.status, 200, r.body);
      assert.equal(r.body, 'secure');
    }
    assert.deepEqual(handshakes.slice(before), [false], 'five requests, one full handshake');
    // The server closes after this response; the next request needs a new connection.
    assert.equal((await request(h.port('http.80'), { path: '/ok?close' })).status, 200);
    assert.equal((await request(h.port('http.80'), { path: '/ok' })).status, 200);
    assert.deepEqual(handshakes.slice(before), [false, true], 'the reconnect resumed the session');
  });

  it('fails a chain the trusted CA did not sign as a connect failure (503) without sending the request', async () => {
    const before = handshakes.length;
    const r = await request(h.port('http.80'), { path: '/untrusted' });
    assert.equal(r.status, 503);
    assert.match(r.body, /reset reason: connection failure/);
    assert.equal(handshakes.length, before, 'the server saw no completed handshake carrying a request');
  });

  it('covers the TLS handshake with the connect timeout (503 connection failure)', async () => {
    const start = Date.now();
    const r = await request(h.port('http.80'), { path: '/stall' });
    assert.equal(r.status, 503);
    assert.match(r.body, /reset reason: connection failure/);
    assert.ok(stalled.length >= 1, 'the TCP connection was made');
    assert.ok(Date.now() - start >= CONNECT_TIMEOUT_MS - 50, 'answered after the connect timeout, not before');
  });

  it('treats a peer that hangs up mid-handshake as a connect failure, retried under connect-failure', async () => {
    const r = await request(h.port('http.80'), { path: '/hangup' });
    assert.equal(r.status, 503);
    assert.match(r.body, /reset reason: connection failure/);
    assert.equal(hangUps, 3, 'one attempt and two retries');
  });

  it('answers a client certificate that does not match its key with 503 connection failure, and keeps serving', async () => {
    const before = handshakes.length;
    for (let i = 0; i < 2; i++) {
      const r = await request(h.port('http.80'), { path: '/badkey' });
      assert.equal(r.status, 503);
      assert.match(r.body, /reset reason: connection failure/);
    }
    assert.equal(handshakes.length, before, 'nothing reached the server');
    assert.equal((await request(h.port('http.80'), { path: '/ok' })).status, 200);
  });
});
