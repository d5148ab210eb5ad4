import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { formatErrors, validateYaml } from './config-validate';
import { formatReferenceError, referenceErrors } from './config-references';
import type { ConfigObject } from './config-types';
import { KINDS } from './schema-registry';

function lines(text: string, file = 'f.yaml'): string[] {
  return validateYaml(text, file).flatMap((r) => formatErrors(file, r));
}

function accepted(text: string, file = 'f.yaml'): ConfigObject[] {
  return validateYaml(text, file).flatMap((r) => (r.ok ? [r.config] : []));
}

describe('exportTo, delegate VirtualServices, Gateway TLS and Secrets', () => {
  it('refuses bad exportTo values with their field paths', () => {
    const out = lines(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a, namespace: ns}
spec: {hosts: [a], exportTo: ["*", "Bad_NS"], http: [{route: [{destination: {host: a}}]}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: d, namespace: ns}
spec: {host: a, exportTo: [".", "."]}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: s, namespace: ns}
spec: {hosts: [a.example.com], exportTo: ["~", "other"]}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ok, namespace: ns}
spec: {hosts: [b.example.com], exportTo: [".", "other-ns"]}
`);
    assert.ok(out.includes('f.yaml: document 0: spec.exportTo[1]: "Bad_NS" must be ".", "*", "~" or a namespace name'), out.join('\n'));
    assert.ok(out.includes('f.yaml: document 0: spec.exportTo: "*" and "~" cannot be combined with other entries'), out.join('\n'));
    assert.ok(out.includes('f.yaml: document 1: spec.exportTo[1]: duplicate entry "."'), out.join('\n'));
    assert.ok(out.some((l) => l.startsWith('f.yaml: document 2: spec.exportTo:')), out.join('\n'));
    assert.ok(!out.some((l) => l.includes('document 3')), out.join('\n'));
  });

  it('accepts a delegate VirtualService without hosts and refuses nested delegation and gateways on it', () => {
    const text = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: root, namespace: ns}
spec:
  hosts: [a]
  http: [{match: [{uri: {prefix: /api}}], delegate: {name: api}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: ns}
spec:
  http: [{route: [{destination: {host: a}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bad, namespace: ns}
spec:
  gateways: [gw]
  http: [{delegate: {name: api}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: both, namespace: ns}
spec:
  hosts: [b]
  http: [{delegate: {name: api}, route: [{destination: {host: a}}]}]
`;
    const out = lines(text);
    assert.equal(accepted(text).length, 2, out.join('\n'));
    assert.ok(out.includes('f.yaml: document 2: spec.http[0].delegate: a delegate VirtualService (no hosts) cannot delegate again'), out.join('\n'));
    assert.ok(out.some((l) => l.startsWith('f.yaml: document 2: spec.gateways: a VirtualService without hosts is a delegate')), out.join('\n'));
    assert.ok(out.includes('f.yaml: document 3: spec.http[0]: has route and delegate; only one is allowed'), out.join('\n'));
  });

  it('reports a delegate that points at nothing, at a VirtualService with hosts, or one not exported to the root', () => {
    const configs = accepted(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: root, namespace: ns}
spec:
  hosts: [a]
  http:
  - {match: [{uri: {prefix: /x}}], delegate: {name: missing}}
  - {match: [{uri: {prefix: /y}}], delegate: {name: hosted}}
  - {match: [{uri: {prefix: /z}}], delegate: {name: private, namespace: other}}
  - {delegate: {name: fine, namespace: other}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: hosted, namespace: ns}
spec: {hosts: [b], http: [{route: [{destination: {host: b}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: private, namespace: other}
spec: {exportTo: ["."], http: [{route: [{destination: {host: b}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: fine, namespace: other}
spec: {exportTo: [ns], http: [{route: [{destination: {host: b}}]}]}
`, 'routes.yaml');
    assert.equal(configs.length, 4);
    const out = referenceErrors(configs).map(formatReferenceError);
    assert.deepEqual(out, [
      'routes.yaml: document 0: spec.http[0].delegate: delegate VirtualService ns/missing does not exist',
      'routes.yaml: document 0: spec.http[1].delegate: VirtualService ns/hosted has hosts, so it is not a delegate',
      'routes.yaml: document 0: spec.http[2].delegate: delegate VirtualService other/private is not exported to namespace ns',
    ]);
  });

  it('requires credentialName (or certificate files) for SIMPLE and MUTUAL gateway servers', () => {
    const out = lines(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - {port: {number: 443, name: https, protocol: HTTPS}, hosts: [a.example.com], tls: {mode: SIMPLE}}
  - {port: {number: 444, name: https2, protocol: HTTPS}, hosts: [a.example.com]}
  - {port: {number: 445, name: tls, protocol: HTTPS}, hosts: [a.example.com], tls: {mode: PASSTHROUGH}}
  - {port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"], tls: {httpsRedirect: true}}
  - {port: {number: 446, name: m, protocol: HTTPS}, hosts: [a.example.com], tls: {mode: MUTUAL, credentialName: a-cred}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw2, namespace: istio-system}
spec:
  servers:
  - {port: {number: 447, name: t, protocol: HTTPS}, hosts: [a.example.com], tls: {mode: SIMPLE, credentialName: a-cred, bogus: 1}}
`);
    assert.ok(out.some((l) => l.startsWith('f.yaml: document 0: spec.servers[0].tls.credentialName: is required for tls mode SIMPLE')), out.join('\n'));
    assert.ok(out.includes('f.yaml: document 1: spec.servers[0].tls.bogus: unknown field'), out.join('\n'));
    const schemaOk = lines(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  servers:
  - {port: {number: 444, name: https2, protocol: HTTPS}, hosts: [a.example.com]}
  - {port: {number: 445, name: tls, protocol: HTTPS}, hosts: [a.example.com], tls: {mode: PASSTHROUGH}}
  - {port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"], tls: {httpsRedirect: true}}
  - {port: {number: 446, name: m, protocol: HTTPS}, hosts: [a.example.com], tls: {mode: MUTUAL, credentialName: a-cred}}
`);
    assert.deepEqual(schemaOk, [
      'f.yaml: document 0: spec.servers[0].tls.mode: is required for a HTTPS server',
      'f.yaml: document 0: spec.servers[1].port.protocol: must be TLS for tls mode PASSTHROUGH',
    ]);
  });

  it('reads Kubernetes TLS Secrets (core v1, data or stringData) and names what a tls Secret lacks', () => {
    const secret = KINDS.find((k) => k.kind === 'Secret');
    assert.equal(secret?.collection, 'k8s/core/v1/secrets');
    const text = `apiVersion: v1
kind: Secret
metadata: {name: a-cred, namespace: istio-system}
type: kubernetes.io/tls
data: {tls.crt: ${Buffer.from('CERT').toString('base64')}}
stringData: {tls.key: KEY}
---
apiVersion: v1
kind: Secret
metadata: {name: b-cred, namespace: istio-system}
type: kubernetes.io/tls
data: {tls.crt: "not base64!"}
`;
    const out = lines(text);
    assert.deepEqual(out, [
      'f.yaml: document 1: data.tls.crt: must be base64 (use stringData for plain text)',
      'f.yaml: document 1: data.tls.crt: is required in a kubernetes.io/tls Secret',
      'f.yaml: document 1: data.tls.key: is required in a kubernetes.io/tls Secret',
    ]);
    const [ok] = accepted(text);
    assert.equal(ok?.kind, 'Secret');
    assert.equal(ok?.meta.namespace, 'istio-system');
    const data = (ok?.spec as { data: Record<string, string> }).data;
    assert.equal(Buffer.from(data['tls.key'] ?? '', 'base64').toString(), 'KEY');
    assert.equal(Buffer.from(data['tls.crt'] ?? '', 'base64').toString(), 'CERT');
  });
});
