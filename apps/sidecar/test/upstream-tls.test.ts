/**
 * TLS to upstream endpoints (cluster transport_socket UpstreamTlsContext), with certificates made by the
 * real openssl: the chain is verified against trusted_ca and the SAN matched when configured; a mismatch
 * fails the request (503 UF) instead of sending anything; a context that needs SDS secrets answers 503
 * and never falls back to plaintext.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import type * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { clusterLoadAssignment, edsCluster, routeConfiguration, sdsSecretConfig, upstreamTlsTransportSocket, virtualHost } from '@mesh/xds';
import { listener, request, startHarness, type Harness } from './helpers';

const SAN = 'spiffe://cluster.local/ns/default/sa/web';

describe('upstream TLS', () => {
  let dir = '';
  let server: https.Server;
  let h: Harness;
  let plaintextSeen = 0;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sidecar-utls-'));
    const f = (n: string) => path.join(dir, n);
    const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
    ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '1', '-subj', '/CN=test-ca');
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('web.key'), '-out', f('web.csr'), '-subj', '/CN=web');
    fs.writeFileSync(f('ext.cnf'), `subjectAltName=URI:${SAN},DNS:web.local\n`);
    ssl('x509', '-req', '-in', f('web.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('web.pem'), '-days', '1', '-extfile', f('ext.cnf'));
    const ca = fs.readFileSync(f('ca.pem'), 'utf8');
    server = https.createServer({ cert: fs.readFileSync(f('web.pem')), key: fs.readFileSync(f('web.key')) }, (_req, res) => res.writeHead(200, { 'x-backend': 'tls-web' }).end('secure'));
    // Plain HTTP arriving on the TLS port fails the handshake with "http request" / wrong version.
    server.on('tlsClientError', (err: Error) => {
      if (/http request|wrong version/i.test(err.message)) plaintextSeen++;
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const tlsCluster = (name: string, ctx: object) => ({ ...edsCluster({ name, connectTimeoutMs: 1000 }), transport_socket: upstreamTlsTransportSocket(ctx as never) });
    const validation = (san: string) => ({ trusted_ca: { inline_string: ca }, match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: san } }] });
    const clusters = [
      tlsCluster('ok', { sni: 'web.local', common_tls_context: { validation_context: validation(SAN) } }),
      tlsCluster('wrong-san', { common_tls_context: { validation_context: validation('spiffe://cluster.local/ns/default/sa/other') } }),
      tlsCluster('unverified', { common_tls_context: {} }),
      tlsCluster('sds', { common_tls_context: { tls_certificate_sds_secret_configs: [sdsSecretConfig('default')], validation_context_sds_secret_config: sdsSecretConfig('ROOTCA') } }),
    ];
    const names = ['ok', 'wrong-san', 'unverified', 'sds'];
    h = await startHarness({
      listeners: [listener('http.80', 'http.80')],
      routes: [routeConfiguration('http.80', [virtualHost('all', ['*'], names.map((n) => ({ match: { prefix: `/${n}` }, route: { cluster: n } })))])],
      clusters,
      endpoints: names.map((n) => clusterLoadAssignment(n, [{ address: '127.0.0.1', port }])),
    });
  });

  after(async () => {
    await h?.stop();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('verifies the chain and the SAN, then proxies over TLS', async () => {
    const r = await request(h.port('http.80'), { path: '/ok' });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.body, 'secure');
  });

  it('connects without verification when there is no validation context (as Envoy does)', async () => {
    assert.equal((await request(h.port('http.80'), { path: '/unverified' })).status, 200);
  });

  it('refuses a peer whose SAN does not match (503)', async () => {
    const r = await request(h.port('http.80'), { path: '/wrong-san' });
    assert.equal(r.status, 503);
    assert.notEqual(r.body, 'secure');
  });

  it('answers 503 for SDS-based TLS and never sends plaintext', async () => {
    const r = await request(h.port('http.80'), { path: '/sds' });
    assert.equal(r.status, 503);
    assert.match(r.body, /SDS/);
    assert.equal(plaintextSeen, 0);
  });
});
