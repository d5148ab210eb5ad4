import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { formatErrors, validateYaml } from './config-validate';
import { KINDS } from './schema-registry';

const vs = (extra: string): string => `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: r, namespace: ns}
spec:
  hosts: [reviews]
  http:
${extra}`;

describe('config validation', () => {
  it('registers every networking and security kind with its MCP collection', () => {
    const kinds = KINDS.map((k) => k.kind);
    for (const k of ['VirtualService', 'DestinationRule', 'ServiceEntry', 'WorkloadEntry', 'Gateway', 'Sidecar', 'PeerAuthentication', 'AuthorizationPolicy']) {
      assert.ok(kinds.includes(k), k);
    }
    assert.equal(KINDS.find((k) => k.kind === 'VirtualService')?.collection, 'istio/networking/v1alpha3/virtualservices');
  });

  it('accepts a valid document and keeps its namespace', () => {
    const [r] = validateYaml(vs('  - route: [{destination: {host: reviews, subset: v1}}]\n'), 'a.yaml');
    assert.ok(r?.ok, JSON.stringify(r));
    assert.equal(r.config.meta.namespace, 'ns');
    assert.deepEqual(r.config.source, { file: 'a.yaml', index: 0 });
  });

  it('names the document index and field path of every error', () => {
    const text = `${vs('  - route: [{destination: {host: a}, weight: 60}, {destination: {host: b}, weight: 30}]\n')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: d}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {simple: FASTEST}}
  subsets: [{name: v1, lables: {a: b}}]
`;
    const results = validateYaml(text, 'bad.yaml');
    assert.equal(results.length, 2);
    const lines = results.flatMap((r) => formatErrors('bad.yaml', r));
    assert.ok(lines.includes('bad.yaml: document 0: spec.http[0].route: weights add up to 90, they must add up to 100'), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith('bad.yaml: document 1: spec.trafficPolicy.loadBalancer.simple: must be one of')), lines.join('\n'));
    assert.ok(lines.includes('bad.yaml: document 1: spec.subsets[0].lables: unknown field'), lines.join('\n'));
  });

  it('refuses unknown kinds, versions, bad names and YAML syntax errors without throwing', () => {
    const results = validateYaml(`apiVersion: networking.istio.io/v9
kind: VirtualService
metadata: {name: x}
spec: {hosts: [a]}
---
apiVersion: networking.istio.io/v1
kind: Frobnicator
metadata: {name: x}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: Bad_Name}
spec: {address: 1.2.3.4}
---
key: [unclosed
`, 'x.yaml');
    assert.equal(results.length, 4);
    assert.ok(results.every((r) => !r.ok));
    const lines = results.flatMap((r) => formatErrors('x.yaml', r));
    assert.match(lines[0] ?? '', /document 0: apiVersion: VirtualService is served as/);
    assert.match(lines[1] ?? '', /document 1: kind: unknown kind Frobnicator/);
    assert.match(lines[2] ?? '', /document 2: metadata.name: is required and must be a DNS-1123 name/);
    assert.match(lines[3] ?? '', /document 3: line \d+, column \d+: YAML syntax/);
  });

  it('checks semantics: one action per route, regexes, sidecar hosts, service entry endpoints', () => {
    const results = validateYaml(`${vs(`  - redirect: {uri: /x}
    directResponse: {status: 200}
  - match: [{uri: {regex: "(unclosed"}}]
    route: [{destination: {host: a}}]
`)}---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: s}
spec:
  egress: [{hosts: [reviews]}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: se}
spec:
  hosts: [a.example.com]
  ports: [{number: 80, name: http}]
  endpoints: [{address: 1.1.1.1, ports: {grpc: 90}}]
`, 'y.yaml');
    const lines = results.flatMap((r) => formatErrors('y.yaml', r));
    assert.ok(lines.some((l) => l.includes('document 0: spec.http[0]: has redirect and directResponse')), lines.join('\n'));
    assert.ok(lines.some((l) => l.includes('document 0: spec.http[1].match[0].uri.regex: invalid regular expression')), lines.join('\n'));
    assert.ok(lines.some((l) => l.includes('document 1: spec.egress[0].hosts[0]: "reviews" must be namespace/dnsName')), lines.join('\n'));
    assert.ok(lines.some((l) => l.includes('document 2: spec.endpoints[0].ports.grpc: no service port named "grpc"')), lines.join('\n'));
  });
});
