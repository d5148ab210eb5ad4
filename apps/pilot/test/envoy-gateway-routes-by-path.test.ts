/**
 * A real Envoy as a gateway (`router~` node, labels istio=ingressgateway) gets a listener per Gateway
 * server from pilot and routes by path with the VirtualService bound to that Gateway.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { freePort, requireDep, startEnvoy, type EnvoyHandle } from '@mesh/deps';
import { dynamicResources, envoyBootstrap, httpGetText, readConfigDump } from '@mesh/xds/testing';
import type { RunningPilot } from '../src/pilot';
import { startTestPilot, tempConfigDir, writeConfig } from './helpers';
import { startHttpBackend, type HttpBackend } from './http-backends';

function config(gwPort: number, a: HttpBackend, b: HttpBackend): string {
  const svc = (name: string, backend: HttpBackend): string => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: shop}
spec:
  hosts: [${name}.shop.svc.cluster.local]
  resolution: STATIC
  ports: [{number: 8000, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, ports: {http: ${backend.port}}}]
---
`;
  return `${svc('catalog', a)}${svc('cart', b)}apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: shop-gateway, namespace: shop}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: ${gwPort}, name: http, protocol: HTTP}, bind: 127.0.0.1, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: shop}
spec:
  hosts: ["*"]
  gateways: [shop-gateway]
  http:
  - match: [{uri: {prefix: /catalog}}]
    route: [{destination: {host: catalog, port: {number: 8000}}}]
  - match: [{uri: {prefix: /cart}}]
    route: [{destination: {host: cart}}]
`;
}

describe('Envoy as a gateway routes by path as pilot says', () => {
  let pilot: RunningPilot | undefined;
  let envoy: EnvoyHandle | undefined;
  let a: HttpBackend | undefined;
  let b: HttpBackend | undefined;
  let port = 0;

  before(async (t) => {
    if (!requireDep(t as never, 'envoy')) return;
    a = await startHttpBackend('catalog');
    b = await startHttpBackend('cart');
    port = await freePort('127.0.0.1');
    const dir = tempConfigDir();
    writeConfig(dir, 'shop.yaml', config(port, a, b));
    pilot = await startTestPilot(dir);
    envoy = await startEnvoy({
      config: envoyBootstrap({
        nodeId: 'router~127.0.0.1~ingress-1.istio-system~istio-system.svc.cluster.local',
        xdsPort: pilot.xdsPort,
        metadata: { NAMESPACE: 'istio-system', LABELS: { istio: 'ingressgateway' } },
      }),
    });
    for (let i = 0; i < 100; i++) {
      const r = await httpGetText(`http://127.0.0.1:${port}/catalog`).catch(() => undefined);
      if (r?.status === 200) break;
      await new Promise((res) => setTimeout(res, 100));
    }
  });

  after(async () => {
    await envoy?.stop();
    await pilot?.stop();
    await a?.stop();
    await b?.stop();
  });

  it('serves the gateway port and sends each path to its service', async (t) => {
    if (!envoy) return t.skip('envoy missing');
    const dump = await readConfigDump(envoy.adminUrl);
    const listeners = dynamicResources(dump, 'listeners');
    assert.deepEqual(listeners.map((l) => l.name), [`127.0.0.1_${port}`]);
    for (const kind of ['listeners', 'clusters', 'routes'] as const) {
      for (const r of dynamicResources(dump, kind)) assert.equal(r.error_state, undefined, `${kind} ${r.name}`);
    }
    assert.equal((await httpGetText(`http://127.0.0.1:${port}/catalog/items`, { host: 'shop.example.com' })).body, 'catalog');
    assert.equal((await httpGetText(`http://127.0.0.1:${port}/cart`)).body, 'cart');
    assert.equal((await httpGetText(`http://127.0.0.1:${port}/elsewhere`)).status, 404);
  });
});
