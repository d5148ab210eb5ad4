/**
 * Gateway TLS through a real Envoy gateway (`router~` node in istio-system): SIMPLE and MUTUAL servers
 * with `credentialName` terminate TLS with certificates pilot serves over ADS as SDS secrets
 * (`kubernetes://<name>`, `kubernetes://<name>-cacert`) from Kubernetes Secrets in the config dir; each
 * server's filter chain is chosen by SNI; MUTUAL refuses a client without a certificate; a server whose
 * Secret is missing is left out (the others keep working) until the Secret appears; PASSTHROUGH sends the
 * still-encrypted stream by SNI to a TLS backend; httpsRedirect answers plain HTTP with a redirect.
 */
import { strict as assert } from 'node:assert';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { freePort, requireDep, startEnvoy, type EnvoyHandle } from '@mesh/deps';
import { dynamicResources, envoyBootstrap, httpGetText, readConfigDump } from '@mesh/xds/testing';
import type { RunningPilot } from '../src/pilot';
import { startTestPilot, tempConfigDir, writeConfig } from './helpers';
import { startHttpBackend, type HttpBackend } from './http-backends';
import { httpsGet, TestCa, tlsSecretYaml, type Pem } from './tls-certs';

const NS = 'istio-system';

interface Ports {
  https: number;
  tls: number;
  http: number;
  web: number;
  tlsBackend: number;
}

function gatewayYaml(p: Ports): string {
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: ${NS}}
spec:
  selector: {istio: ingressgateway}
  servers:
  - {port: {number: ${p.https}, name: https-a, protocol: HTTPS}, bind: 127.0.0.1, hosts: [a.example.com], tls: {mode: SIMPLE, credentialName: a-cred}}
  - {port: {number: ${p.https}, name: https-m, protocol: HTTPS}, bind: 127.0.0.1, hosts: [m.example.com], tls: {mode: MUTUAL, credentialName: m-cred}}
  - {port: {number: ${p.https}, name: https-late, protocol: HTTPS}, bind: 127.0.0.1, hosts: [late.example.com], tls: {mode: SIMPLE, credentialName: late-cred}}
  - {port: {number: ${p.tls}, name: tls-p, protocol: TLS}, bind: 127.0.0.1, hosts: [p.example.com], tls: {mode: PASSTHROUGH}}
  - {port: {number: ${p.http}, name: http, protocol: HTTP}, bind: 127.0.0.1, hosts: [a.example.com], tls: {httpsRedirect: true}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: web, namespace: ${NS}}
spec:
  hosts: [web.${NS}.svc.cluster.local]
  resolution: STATIC
  ports: [{number: 8000, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, ports: {http: ${p.web}}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: secure, namespace: ${NS}}
spec:
  hosts: [secure.${NS}.svc.cluster.local]
  resolution: STATIC
  ports: [{number: 9443, name: tls, protocol: TLS}]
  endpoints: [{address: 127.0.0.1, ports: {tls: ${p.tlsBackend}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: ${NS}}
spec:
  hosts: [a.example.com, m.example.com, late.example.com]
  gateways: [gw]
  http: [{route: [{destination: {host: web, port: {number: 8000}}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: secure, namespace: ${NS}}
spec:
  hosts: [p.example.com]
  gateways: [gw]
  tls: [{match: [{port: ${p.tls}, sniHosts: [p.example.com]}], route: [{destination: {host: secure, port: {number: 9443}}}]}]
`;
}

describe('a real Envoy gateway terminates and passes through TLS as Gateway servers say', () => {
  let pilot: RunningPilot | undefined;
  let envoy: EnvoyHandle | undefined;
  let web: HttpBackend | undefined;
  let tlsBackend: https.Server | undefined;
  let dir = '';
  const ports: Ports = { https: 0, tls: 0, http: 0, web: 0, tlsBackend: 0 };
  const serverCa = new TestCa('gateway-ca');
  const clientCa = new TestCa('client-ca');
  const otherCa = new TestCa('other-ca');
  const pems: Record<string, Pem> = {};

  before(async (t) => {
    if (!requireDep(t as never, 'envoy')) return;
    for (const h of ['a', 'm', 'late', 'p']) pems[h] = serverCa.issue(`${h}.example.com`);
    pems.client = clientCa.issue('client.example.com');
    pems.stranger = otherCa.issue('stranger.example.com');
    web = await startHttpBackend('web');
    tlsBackend = https.createServer({ cert: pems.p?.cert, key: pems.p?.key }, (_req, res) => res.end('passthrough'));
    await new Promise<void>((resolve) => tlsBackend?.listen(0, '127.0.0.1', resolve));
    ports.web = web.port;
    ports.tlsBackend = (tlsBackend.address() as AddressInfo).port;
    ports.https = await freePort('127.0.0.1');
    ports.tls = await freePort('127.0.0.1');
    ports.http = await freePort('127.0.0.1');
    dir = tempConfigDir();
    writeConfig(dir, 'gateway.yaml', gatewayYaml(ports));
    writeConfig(dir, 'secrets.yaml', [
      tlsSecretYaml('a-cred', NS, pems.a),
      tlsSecretYaml('m-cred', NS, pems.m),
      tlsSecretYaml('m-cred-cacert', NS, undefined, clientCa.cert),
      // Same name in another namespace: never served to this gateway.
      tlsSecretYaml('late-cred', 'default', pems.late),
    ].join('---\n'));
    pilot = await startTestPilot(dir);
    envoy = await startEnvoy({
      config: envoyBootstrap({
        nodeId: `router~127.0.0.1~ingress-1.${NS}~${NS}.svc.cluster.local`,
        xdsPort: pilot.xdsPort,
        metadata: { NAMESPACE: NS, LABELS: { istio: 'ingressgateway' } },
      }),
    });
    for (let i = 0; i < 100; i++) {
      const r = await httpsGet(ports.https, 'a.example.com', serverCa.cert);
      if (r.status === 200) break;
      await new Promise((res) => setTimeout(res, 100));
    }
  });

  after(async () => {
    await envoy?.stop();
    await pilot?.stop();
    await web?.stop();
    tlsBackend?.closeAllConnections();
    await new Promise<void>((resolve) => (tlsBackend ? tlsBackend.close(() => resolve()) : resolve()));
  });

  it('applies every listener, route and secret (no rejection) and serves secrets named kubernetes://<credentialName>', async (t) => {
    if (!envoy) return t.skip('envoy missing');
    const dump = await readConfigDump(envoy.adminUrl);
    for (const kind of ['listeners', 'clusters', 'routes'] as const) {
      for (const r of dynamicResources(dump, kind)) assert.equal(r.error_state, undefined, `${kind} ${r.name}`);
    }
    const listener = dynamicResources(dump, 'listeners').find((l) => l.name === `127.0.0.1_${ports.https}`);
    assert.equal(listener?.state, 'active');
    const chains = (listener?.resource.filter_chains ?? []) as { filter_chain_match?: { server_names?: string[] } }[];
    assert.deepEqual(chains.map((c) => c.filter_chain_match?.server_names), [['a.example.com'], ['m.example.com']]);
    const secrets = dump.configs.find((c) => String(c['@type']).endsWith('SecretsConfigDump')) as { dynamic_active_secrets?: { name: string }[] } | undefined;
    assert.deepEqual((secrets?.dynamic_active_secrets ?? []).map((s) => s.name).sort(), ['kubernetes://a-cred', 'kubernetes://m-cred', 'kubernetes://m-cred-cacert']);
  });

  it('SIMPLE: terminates TLS with the Secret\'s certificate, chosen by SNI, and routes to the VirtualService destination', async (t) => {
    if (!envoy) return t.skip('envoy missing');
    const r = await httpsGet(ports.https, 'a.example.com', serverCa.cert);
    assert.deepEqual({ status: r.status, body: r.body, peer: r.peer }, { status: 200, body: 'web', peer: 'a.example.com' });
    // A client that trusts another CA refuses the gateway's certificate.
    const wrongCa = await httpsGet(ports.https, 'a.example.com', otherCa.cert);
    assert.equal(wrongCa.status, 0);
  });

  it('MUTUAL: refuses a client without a certificate or with one from another CA, serves one with a client certificate', async (t) => {
    if (!envoy) return t.skip('envoy missing');
    const without = await httpsGet(ports.https, 'm.example.com', serverCa.cert);
    assert.equal(without.status, 0, JSON.stringify(without));
    const stranger = await httpsGet(ports.https, 'm.example.com', serverCa.cert, { client: pems.stranger });
    assert.equal(stranger.status, 0, JSON.stringify(stranger));
    const withCert = await httpsGet(ports.https, 'm.example.com', serverCa.cert, { client: pems.client });
    assert.deepEqual({ status: withCert.status, body: withCert.body, peer: withCert.peer }, { status: 200, body: 'web', peer: 'm.example.com' });
  });

  it('PASSTHROUGH: sends the TLS stream by SNI to the TLS backend (its certificate reaches the client)', async (t) => {
    if (!envoy) return t.skip('envoy missing');
    const r = await httpsGet(ports.tls, 'p.example.com', serverCa.cert);
    assert.deepEqual({ status: r.status, body: r.body, peer: r.peer }, { status: 200, body: 'passthrough', peer: 'p.example.com' });
    const unknown = await httpsGet(ports.tls, 'q.example.com', serverCa.cert);
    assert.equal(unknown.status, 0);
  });

  it('httpsRedirect: answers plain HTTP with a redirect to https', async (t) => {
    if (!envoy) return t.skip('envoy missing');
    const r = await httpGetText(`http://127.0.0.1:${ports.http}/path?q=1`, { host: 'a.example.com' });
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, 'https://a.example.com/path?q=1');
  });

  it('leaves a server without its Secret out, and serves it once the Secret appears in the gateway namespace', async (t) => {
    if (!envoy) return t.skip('envoy missing');
    assert.equal((await httpsGet(ports.https, 'late.example.com', serverCa.cert)).status, 0);
    writeConfig(dir, 'late.yaml', tlsSecretYaml('late-cred', NS, pems.late));
    let r = await httpsGet(ports.https, 'late.example.com', serverCa.cert);
    for (let i = 0; i < 100 && r.status !== 200; i++) {
      await new Promise((res) => setTimeout(res, 100));
      r = await httpsGet(ports.https, 'late.example.com', serverCa.cert);
    }
    assert.deepEqual({ status: r.status, body: r.body, peer: r.peer }, { status: 200, body: 'web', peer: 'late.example.com' });
    // The others kept working across the listener update.
    assert.equal((await httpsGet(ports.https, 'a.example.com', serverCa.cert)).status, 200);
  });
});
