/**
 * `proxy-config <proxy>`: an admin address is used as is; a component name or an Istio proxy id is found
 * in the local mesh's topology (by name, else by the proxy's IP being its admin host, as for the ingress
 * gateway `router~127.0.0.10~istio-ingressgateway...` whose component is `ingress-gateway`).
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { resolveProxyAdmin, type MeshState } from './src/mesh-state';

const state: MeshState = {
  file: '/x/topology.json',
  stateDir: '/x',
  components: [
    { name: 'pilot', role: 'control-plane', ports: [{ name: 'debug', host: '127.0.0.1', port: 15014 }], links: [] },
    { name: 'sidecar-reviews-v1', role: 'sidecar', ports: [{ name: 'admin', host: '127.0.0.13', port: 15000 }], links: [] },
    { name: 'ingress-gateway', role: 'gateway', ports: [{ name: 'http', host: '127.0.0.1', port: 8080 }, { name: 'admin', host: '127.0.0.10', port: 15000 }], links: [] },
  ],
};

describe('proxy admin address', () => {
  it('takes an address or URL as is', () => {
    assert.equal(resolveProxyAdmin('127.0.0.1:15000', undefined), 'http://127.0.0.1:15000');
    assert.equal(resolveProxyAdmin('[::1]:15000', undefined), 'http://[::1]:15000');
    assert.equal(resolveProxyAdmin('http://127.0.0.1:9/', undefined), 'http://127.0.0.1:9');
  });

  it('finds a component by name, a sidecar by proxy id, the gateway by its IP', () => {
    assert.equal(resolveProxyAdmin('ingress-gateway', state), 'http://127.0.0.10:15000');
    assert.equal(resolveProxyAdmin('sidecar~127.0.0.99~reviews-v1.default~default.svc.cluster.local', state), 'http://127.0.0.13:15000');
    assert.equal(resolveProxyAdmin('router~127.0.0.10~istio-ingressgateway.default~default.svc.cluster.local', state), 'http://127.0.0.10:15000');
  });

  it('names the known proxies when it cannot find one', () => {
    assert.throws(() => resolveProxyAdmin('sidecar~127.0.0.50~ratings-v1.default~default.svc.cluster.local', state), /no proxy "sidecar~127\.0\.0\.50.*known: sidecar-reviews-v1, ingress-gateway/);
    assert.throws(() => resolveProxyAdmin('pilot', state), /known: sidecar-reviews-v1, ingress-gateway/);
  });
});
