import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { validateYaml, type ConfigObject } from '@mesh/config';
import { generateSds } from './generator-sds';
import type { Proxy } from './proxy';
import { computeScope } from './proxy-scope';
import { PushContext } from './push-context';
import { ConfigServiceRegistry } from './registry-config';
import { buildListeners } from './translate-listener';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

const CONFIG = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - {port: {number: 443, name: https, protocol: HTTPS}, hosts: [a.example.com], tls: {mode: MUTUAL, credentialName: a-cred}}
  - {port: {number: 443, name: https-b, protocol: HTTPS}, hosts: [b.example.com], tls: {mode: SIMPLE, credentialName: b-cred}}
---
apiVersion: v1
kind: Secret
metadata: {name: a-cred, namespace: istio-system}
type: kubernetes.io/tls
data: {tls.crt: ${b64('CERT-A')}, tls.key: ${b64('KEY-A')}, ca.crt: ${b64('CA-A')}}
---
apiVersion: v1
kind: Secret
metadata: {name: b-cred, namespace: other}
type: kubernetes.io/tls
data: {tls.crt: ${b64('CERT-B')}, tls.key: ${b64('KEY-B')}}
`;

function push(): PushContext {
  const configs: ConfigObject[] = validateYaml(CONFIG, 'gw.yaml').map((r) => {
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return r.config;
  });
  const of = (k: string): ConfigObject[] => configs.filter((c) => c.kind === k);
  return new PushContext('1', new ConfigServiceRegistry([], []), { virtualServices: [], destinationRules: [], sidecars: [], gateways: of('Gateway'), secrets: of('Secret') }, {
    rootNamespace: 'istio-system',
    domainSuffix: 'cluster.local',
  });
}

const proxy = (type: Proxy['type'], namespace: string): Proxy => ({
  id: `${type}~10.0.0.1~gw-1.${namespace}~${namespace}.svc.cluster.local`, type, ip: '10.0.0.1', podName: 'gw-1', namespace, dnsDomain: '',
  labels: { istio: 'ingressgateway' }, generator: 'envoy', interception: 'REDIRECT',
});

describe('SDS over ADS for gateways', () => {
  it('gives a router proxy the credentials of its servers from its own namespace (ca.crt as <name>-cacert)', () => {
    const p = push();
    const secrets = generateSds(p, computeScope(p, proxy('router', 'istio-system'))) as { name: string; tls_certificate?: { private_key: { inline_bytes: Buffer } }; validation_context?: { trusted_ca: { inline_bytes: Buffer } } }[];
    assert.deepEqual(secrets.map((s) => s.name), ['kubernetes://a-cred', 'kubernetes://a-cred-cacert']);
    assert.equal(secrets[0]?.tls_certificate?.private_key.inline_bytes.toString(), 'KEY-A');
    assert.equal(secrets[1]?.validation_context?.trusted_ca.inline_bytes.toString(), 'CA-A');
    // b-cred lives in another namespace: its server is left out of the listener.
    const listeners = buildListeners(p, computeScope(p, proxy('router', 'istio-system')));
    const chains = listeners[0]?.filter_chains ?? [];
    assert.deepEqual(chains.map((c) => c.filter_chain_match?.server_names), [['a.example.com']]);
  });

  it('resolves credentials in the proxy namespace (a router in other gets only b-cred) and gives a sidecar none', () => {
    const p = push();
    assert.deepEqual(generateSds(p, computeScope(p, proxy('router', 'other'))).map((s) => (s as { name: string }).name), ['kubernetes://b-cred']);
    assert.deepEqual(generateSds(p, computeScope(p, proxy('sidecar', 'istio-system'))), []);
  });
});
