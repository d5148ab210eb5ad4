/**
 * One Gateway TLS scenario, run against a real Envoy and against our built sidecar as gateways: servers
 * SIMPLE (a.example.com), MUTUAL (m.example.com, CA from Secret m-cred-cacert), SIMPLE whose Secret is
 * only in another namespace at first (late.example.com), PASSTHROUGH by SNI (p.example.com, to a TLS
 * backend), and a plain HTTP server with httpsRedirect; the traffic checks are shared.
 */
import { strict as assert } from 'node:assert';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { freePort } from '@mesh/deps';
import { httpGetText } from '@mesh/xds/testing';
import type { RunningPilot } from '../src/pilot';
import { startTestPilot, tempConfigDir, writeConfig } from './helpers';
import { startHttpBackend, type HttpBackend } from './http-backends';
import { httpsGet, TestCa, tlsSecretYaml, type Pem } from './tls-certs';

export const GATEWAY_NS = 'istio-system';
const NS = GATEWAY_NS;

export interface GatewayPorts {
  https: number;
  tls: number;
  http: number;
  web: number;
  tlsBackend: number;
}

export function gatewayYaml(p: GatewayPorts): string {
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

/** What a test needs to run the scenario's gateway: pilot's port, the ports, and a way to stop it. */
export interface GatewayUnderTest {
  stop(): Promise<void>;
}

export interface ScenarioState {
  pilot: RunningPilot;
  ports: GatewayPorts;
  serverCa: TestCa;
  clientCa: TestCa;
  otherCa: TestCa;
  pems: Record<string, Pem>;
  gateway: GatewayUnderTest;
}

const GATEWAY_NODE_ID = `router~127.0.0.1~ingress-1.${NS}~${NS}.svc.cluster.local`;
export const GATEWAY_NODE = { id: GATEWAY_NODE_ID, namespace: NS, labels: { istio: 'ingressgateway' } };

/**
 * The scenario's tests. `startGateway` returns undefined when its dependency is missing (skipped);
 * `extra` adds proxy-specific checks (Envoy's config_dump).
 */
export function describeGatewayTls(
  title: string,
  startGateway: (t: unknown, pilot: RunningPilot) => Promise<GatewayUnderTest | undefined>,
  extra?: (state: () => ScenarioState) => void,
): void {
  describe(title, () => {
    let state: ScenarioState | undefined;
    let web: HttpBackend | undefined;
    let tlsBackend: https.Server | undefined;
    let pilot: RunningPilot | undefined;
    let dir = '';
    const serverCa = new TestCa('gateway-ca');
    const clientCa = new TestCa('client-ca');
    const otherCa = new TestCa('other-ca');
    const pems: Record<string, Pem> = {};

    before(async (t) => {
      for (const h of ['a', 'm', 'late', 'p']) pems[h] = serverCa.issue(`${h}.example.com`);
      pems.client = clientCa.issue('client.example.com');
      pems.stranger = otherCa.issue('stranger.example.com');
      web = await startHttpBackend('web');
      tlsBackend = https.createServer({ cert: pems.p?.cert, key: pems.p?.key }, (_req, res) => res.end('passthrough'));
      await new Promise<void>((resolve) => tlsBackend?.listen(0, '127.0.0.1', resolve));
      const ports: GatewayPorts = {
        web: web.port,
        tlsBackend: (tlsBackend.address() as AddressInfo).port,
        https: await freePort('127.0.0.1'),
        tls: await freePort('127.0.0.1'),
        http: await freePort('127.0.0.1'),
      };
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
      const gateway = await startGateway(t, pilot);
      if (!gateway) return;
      state = { pilot, ports, serverCa, clientCa, otherCa, pems, gateway };
      for (let i = 0; i < 150; i++) {
        const r = await httpsGet(ports.https, 'a.example.com', serverCa.cert);
        if (r.status === 200) break;
        await new Promise((res) => setTimeout(res, 100));
      }
    });

    after(async () => {
      await state?.gateway.stop();
      await pilot?.stop();
      await web?.stop();
      tlsBackend?.closeAllConnections();
      await new Promise<void>((resolve) => (tlsBackend ? tlsBackend.close(() => resolve()) : resolve()));
    });

    extra?.(() => state as ScenarioState);

    it('SIMPLE: terminates TLS with the Secret\'s certificate, chosen by SNI, and routes to the VirtualService destination', async (t) => {
      if (!state) return t.skip('gateway dependency missing');
      const r = await httpsGet(state.ports.https, 'a.example.com', serverCa.cert);
      assert.deepEqual({ status: r.status, body: r.body, peer: r.peer }, { status: 200, body: 'web', peer: 'a.example.com' });
      // A client that trusts another CA refuses the gateway's certificate.
      const wrongCa = await httpsGet(state.ports.https, 'a.example.com', otherCa.cert);
      assert.equal(wrongCa.status, 0);
    });

    it('MUTUAL: refuses a client without a certificate or with one from another CA, serves one with a client certificate', async (t) => {
      if (!state) return t.skip('gateway dependency missing');
      const without = await httpsGet(state.ports.https, 'm.example.com', serverCa.cert);
      assert.equal(without.status, 0, JSON.stringify(without));
      const stranger = await httpsGet(state.ports.https, 'm.example.com', serverCa.cert, { client: pems.stranger });
      assert.equal(stranger.status, 0, JSON.stringify(stranger));
      const withCert = await httpsGet(state.ports.https, 'm.example.com', serverCa.cert, { client: pems.client });
      assert.deepEqual({ status: withCert.status, body: withCert.body, peer: withCert.peer }, { status: 200, body: 'web', peer: 'm.example.com' });
    });

    it('PASSTHROUGH: sends the TLS stream by SNI to the TLS backend (its certificate reaches the client)', async (t) => {
      if (!state) return t.skip('gateway dependency missing');
      const r = await httpsGet(state.ports.tls, 'p.example.com', serverCa.cert);
      assert.deepEqual({ status: r.status, body: r.body, peer: r.peer }, { status: 200, body: 'passthrough', peer: 'p.example.com' });
      const unknown = await httpsGet(state.ports.tls, 'q.example.com', serverCa.cert);
      assert.equal(unknown.status, 0);
    });

    it('httpsRedirect: answers plain HTTP with a redirect to https', async (t) => {
      if (!state) return t.skip('gateway dependency missing');
      const r = await httpGetText(`http://127.0.0.1:${state.ports.http}/path?q=1`, { host: 'a.example.com' });
      assert.equal(r.status, 301);
      assert.equal(r.headers.location, 'https://a.example.com/path?q=1');
    });

    it('leaves a server without its Secret out, and serves it once the Secret appears in the gateway namespace', async (t) => {
      if (!state) return t.skip('gateway dependency missing');
      assert.equal((await httpsGet(state.ports.https, 'late.example.com', serverCa.cert)).status, 0);
      writeConfig(dir, 'late.yaml', tlsSecretYaml('late-cred', NS, pems.late));
      let r = await httpsGet(state.ports.https, 'late.example.com', serverCa.cert);
      for (let i = 0; i < 100 && r.status !== 200; i++) {
        await new Promise((res) => setTimeout(res, 100));
        r = await httpsGet(state.ports.https, 'late.example.com', serverCa.cert);
      }
      assert.deepEqual({ status: r.status, body: r.body, peer: r.peer }, { status: 200, body: 'web', peer: 'late.example.com' });
      // The others kept working across the listener update.
      assert.equal((await httpsGet(state.ports.https, 'a.example.com', serverCa.cert)).status, 200);
    });

    it('serves a renewed certificate once its Secret changes', async (t) => {
      if (!state) return t.skip('gateway dependency missing');
      const before = await httpsGet(state.ports.https, 'a.example.com', serverCa.cert);
      assert.equal(before.status, 200);
      const renewed = serverCa.issue('a.example.com');
      writeConfig(dir, 'secrets.yaml', [
        tlsSecretYaml('a-cred', NS, renewed),
        tlsSecretYaml('m-cred', NS, pems.m),
        tlsSecretYaml('m-cred-cacert', NS, undefined, clientCa.cert),
      ].join('---\n'));
      let r = before;
      for (let i = 0; i < 100 && r.serial === before.serial; i++) {
        await new Promise((res) => setTimeout(res, 100));
        r = await httpsGet(state.ports.https, 'a.example.com', serverCa.cert);
      }
      assert.notEqual(r.serial, before.serial);
      assert.deepEqual({ status: r.status, body: r.body }, { status: 200, body: 'web' });
    });
  });
}
