/**
 * Conformance with Envoy for header formatters in request/response headers_to_add: the same route
 * configuration to a real Envoy and to the sidecar, the same request to each, and the same headers seen by
 * the backend and by the client (values that name a per-proxy port or a time are compared by shape). An
 * unknown operator is refused by both; the sidecar names the field.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { requireDep, startEnvoy, freePort, type EnvoyHandle } from '@mesh/deps';
import { AdsServer, httpConnectionManager, httpListener, routeConfiguration } from '@mesh/xds';
import { envoyBootstrap, quietLogger } from '@mesh/xds/testing';
import { compileRouteConfiguration } from '../src/config-route';
import type { Proxy } from '../src/proxy';
import { cluster, NODE_ID, request, snapshot, startBackend, startProxy, waitUntil, type Backend, type Reply, type Resources, waitFor200 } from './helpers';

const ENVOY_NODE = 'sidecar~127.0.0.2~envoy-fmt.default~default.svc.cluster.local';
const A = 'outbound|80||a.default.svc.cluster.local';

const add = (key: string, value: string, extra: object = {}) => ({ header: { key, value }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD', ...extra });

const REQUEST_HEADERS = [
  add('x-f-req', '%REQ(x-in)%'),
  add('x-f-req-alt', '%REQ(x-missing?x-in)%'),
  add('x-f-req-max', '%REQ(x-in):3%'),
  add('x-f-req-absent', '%REQ(x-missing)%'),
  add('x-f-path', '%REQ(:path)%'),
  add('x-f-method', '%REQ(:method)%'),
  add('x-f-authority', '%REQ(:authority)%'),
  add('x-f-mixed', 'a-%REQ(x-in)%-b %% c'),
  add('x-f-remote', '%DOWNSTREAM_REMOTE_ADDRESS%'),
  add('x-f-remote-ip', '%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%'),
  add('x-f-local', '%DOWNSTREAM_LOCAL_ADDRESS%'),
  add('x-f-upstream', '%UPSTREAM_REMOTE_ADDRESS%'),
  add('x-f-proto', '%PROTOCOL%'),
  add('x-f-host', '%HOSTNAME%'),
  add('x-f-sni', '%REQUESTED_SERVER_NAME%'),
  add('x-f-san', '%DOWNSTREAM_PEER_URI_SAN%'),
  add('x-f-meta', '%UPSTREAM_METADATA(["istio","canonical"])%'),
  add('x-f-start', '%START_TIME%'),
  add('x-f-start-fmt', '%START_TIME(%Y-%m-%dT%H:%M:%S.%3f%z)%'),
  add('x-f-start-s', '%START_TIME(%s)%'),
  add('x-f-empty', ''),
  add('x-f-empty-kept', '', { keep_empty_value: true }),
];
const RESPONSE_HEADERS = [
  add('x-r-resp', '%RESP(x-backend)%'),
  add('x-r-resp-absent', '%RESP(x-missing)%'),
  add('x-r-req', '%REQ(x-in)%'),
  add('x-r-upstream', '%UPSTREAM_REMOTE_ADDRESS%'),
  add('x-r-proto', '%PROTOCOL%'),
];

function resources(port: number, a: Backend): Resources {
  const hcm = httpConnectionManager({ statPrefix: 'fmt', routeConfigName: 'fmt.routes', filters: [] });
  const ca = cluster(A, [{ port: a.port }]);
  return {
    listeners: [httpListener({ name: 'fmt', address: '127.0.0.1', port, hcm })],
    routes: [
      routeConfiguration('fmt.routes', [
        {
          name: 'svc',
          domains: ['*'],
          routes: [
            { match: { prefix: '/direct' }, direct_response: { status: 200, body: { inline_string: 'direct' } }, response_headers_to_add: [add('x-d-req', '%REQ(x-in)%'), add('x-d-proto', '%PROTOCOL%')] },
            { match: { prefix: '/' }, route: { cluster: A }, request_headers_to_add: REQUEST_HEADERS, response_headers_to_add: RESPONSE_HEADERS },
          ],
        } as never,
      ]),
    ],
    clusters: [ca.cluster],
    endpoints: [ca.endpoints],
  };
}

/** Values that hold a proxy's own port or a time, reduced to their shape. */
function shape(name: string, v: string | undefined): string | null {
  if (v === undefined) return null;
  if (name === 'x-f-remote' || name === 'x-f-local') return v.replace(/:\d+$/, ':PORT');
  if (name.startsWith('x-f-start')) return v.replace(/\d/g, 'D');
  return v;
}

function observe(r: Reply): Record<string, string | null> {
  const out: Record<string, string | null> = { status: String(r.status) };
  const seen = r.headers['content-type']?.includes('json') ? (JSON.parse(r.body) as { headers: Record<string, string> }).headers : {};
  for (const h of REQUEST_HEADERS) out[`seen:${h.header.key}`] = shape(h.header.key, seen[h.header.key]);
  for (const k of [...RESPONSE_HEADERS.map((h) => h.header.key), 'x-d-req', 'x-d-proto']) {
    const v = r.headers[k];
    out[k] = shape(k, Array.isArray(v) ? v.join(',') : v);
  }
  return out;
}

describe('conformance with Envoy: header formatters', () => {
  let a: Backend;
  let ads: AdsServer | undefined;
  let bound: { port: number; close(): Promise<void> } | undefined;
  let envoy: EnvoyHandle | undefined;
  let proxy: Proxy | undefined;
  const ports = { envoy: 0, sidecar: 0 };
  let skip = false;

  before(async (t) => {
    if (!requireDep(t as never, 'envoy')) {
      skip = true;
      return;
    }
    a = await startBackend('a');
    ports.envoy = await freePort();
    ports.sidecar = await freePort();
    ads = new AdsServer({ logger: quietLogger() });
    ads.setSnapshot(ENVOY_NODE, snapshot(resources(ports.envoy, a)));
    ads.setSnapshot(NODE_ID, snapshot(resources(ports.sidecar, a)));
    bound = await ads.listen('127.0.0.1:0');
    envoy = await startEnvoy({ config: envoyBootstrap({ nodeId: ENVOY_NODE, xdsPort: bound.port }), concurrency: 1 });
    proxy = await startProxy({ xdsTarget: `127.0.0.1:${bound.port}`, logName: 'conformance-fmt' });
    for (const port of [ports.envoy, ports.sidecar]) {
      await waitFor200(port, { path: '/direct' });
    }
  });

  after(async () => {
    await proxy?.stop();
    await envoy?.stop();
    await bound?.close();
    await a?.close();
  });

  for (const path of ['/through', '/direct']) {
    it(`same formatted headers: ${path}`, async (t) => {
      if (skip) return t.skip('envoy not installed');
      const opts = { path: `${path}?q=1`, host: 'svc.local', headers: { 'x-in': 'hello-world' } };
      const viaEnvoy = observe(await request(ports.envoy, opts));
      const viaSidecar = observe(await request(ports.sidecar, opts));
      if (path === '/through') {
        assert.equal(viaEnvoy['seen:x-f-req'], 'hello-world', 'Envoy did not format %REQ%');
        assert.equal(viaEnvoy['seen:x-f-path'], '/through?q=1');
      }
      assert.deepEqual(viaSidecar, viaEnvoy);
    });
  }

  it('an unknown operator or a lone % is refused with the field path (Envoy refuses the same route configuration)', async (t) => {
    if (skip || !ads || !envoy) return t.skip('envoy not installed');
    const bad = (value: string) => ({ name: 'bad', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: A }, request_headers_to_add: [add('x-bad', value)] }] }] });
    for (const value of ['%BOGUS%', '100% sure', '%REQ()%']) {
      const r = compileRouteConfiguration(bad(value));
      assert.ok(!r.ok, `${value} was accepted`);
      assert.deepEqual(r.errors.map((e) => e.path), ['route_configuration.virtual_hosts[0].routes[0].request_headers_to_add[0].header.value'], value);
    }
    // Envoy: the same RouteConfiguration over RDS is rejected (update_rejected counts it).
    const withBad = resources(ports.envoy, a);
    withBad.routes = [...(withBad.routes ?? []), routeConfiguration('bad.routes', bad('%BOGUS%').virtual_hosts as never)];
    withBad.listeners = [...(withBad.listeners ?? []), httpListener({ name: 'bad', address: '127.0.0.1', port: await freePort(), hcm: httpConnectionManager({ statPrefix: 'bad', routeConfigName: 'bad.routes', filters: [] }) })];
    ads.setSnapshot(ENVOY_NODE, snapshot(withBad));
    let rejected = false;
    await waitUntil('envoy rejects the route configuration', () => {
      void fetch(`${envoy?.adminUrl}/stats?filter=bad.routes.update_rejected`).then((r) => r.text()).then((txt) => (rejected = /update_rejected: [1-9]/.test(txt)), () => undefined);
      return rejected;
    }, 20_000);
  });
});
