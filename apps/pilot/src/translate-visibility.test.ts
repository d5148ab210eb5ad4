import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { Cluster, ClusterLoadAssignment } from '@mesh/xds';
import { Snapshot, TYPE_URL } from '@mesh/xds';
import { validateYaml, type ConfigObject } from '@mesh/config';
import { generateEds } from './generator-eds';
import type { Proxy } from './proxy';
import { computeScope } from './proxy-scope';
import { PushContext } from './push-context';
import { ConfigServiceRegistry } from './registry-config';
import { buildClusters } from './translate-cluster';
import { mergeHttpRoute } from './translate-delegate';
import { destinationRuleFor } from './translate-visibility';

function pushFrom(yaml: string): PushContext {
  const configs: ConfigObject[] = validateYaml(yaml, 't.yaml').map((r) => {
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return r.config;
  });
  const of = (k: string): ConfigObject[] => configs.filter((c) => c.kind === k);
  return new PushContext(
    '1',
    new ConfigServiceRegistry(of('ServiceEntry'), of('WorkloadEntry')),
    { virtualServices: of('VirtualService'), destinationRules: of('DestinationRule'), sidecars: of('Sidecar'), serviceEntries: of('ServiceEntry') },
    { rootNamespace: 'istio-system', domainSuffix: 'cluster.local' },
  );
}

const proxy = (namespace: string): Proxy => ({
  id: `sidecar~1.1.1.1~p.${namespace}~${namespace}.svc.cluster.local`, type: 'sidecar', ip: '1.1.1.1', podName: 'p', namespace, dnsDomain: '', labels: {}, generator: 'envoy', interception: 'REDIRECT',
});

const HOST = 'reviews.app.svc.cluster.local';
const MESH = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: app}
spec:
  hosts: [${HOST}]
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  endpoints: [{address: 10.0.0.1, labels: {version: v1}}, {address: 10.0.0.2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: a-private, namespace: app}
spec: {host: ${HOST}, exportTo: ["."], subsets: [{name: mine, labels: {version: v1}}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: for-client, namespace: client}
spec: {host: ${HOST}, subsets: [{name: theirs, labels: {version: v2}}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: z-root, namespace: istio-system}
spec: {host: ${HOST}, subsets: [{name: rooted, labels: {version: v2}}]}
`;

describe('exportTo picks the DestinationRule per proxy namespace', () => {
  const push = pushFrom(MESH);

  it('prefers the proxy namespace, then the service namespace (if exported), then the root namespace', () => {
    assert.equal(destinationRuleFor(push, 'app', HOST)?.config.meta.name, 'a-private');
    assert.equal(destinationRuleFor(push, 'client', HOST)?.config.meta.name, 'for-client');
    assert.equal(destinationRuleFor(push, 'third', HOST)?.config.meta.name, 'z-root');
  });

  it('gives each namespace its subset clusters and every one of them endpoints (a consistent snapshot)', () => {
    for (const [ns, subset] of [['app', 'mine'], ['client', 'theirs'], ['third', 'rooted']] as const) {
      const scope = computeScope(push, proxy(ns));
      const clusters = buildClusters(push, scope) as Cluster[];
      const names = clusters.map((c) => c.name).sort();
      assert.deepEqual(names, [`outbound|9080||${HOST}`, `outbound|9080|${subset}|${HOST}`].sort(), ns);
      const eds = generateEds(push, scope) as ClusterLoadAssignment[];
      const snapshot = new Snapshot({
        [TYPE_URL.CLUSTER]: { version: '1', resources: clusters },
        [TYPE_URL.ENDPOINT]: { version: '1', resources: eds },
      });
      assert.deepEqual(snapshot.consistencyProblems(), [], ns);
    }
  });
});

describe('delegate route merge', () => {
  it('merges matches, inherits root settings and reports a conflict', () => {
    const root = { name: 'api', match: [{ uri: { prefix: '/api' }, headers: { x: { exact: '1' } } }], timeout: '2s', delegate: { name: 'd' } };
    const merged = mergeHttpRoute(root, { name: 'v1', match: [{ uri: { prefix: '/api/v1' }, method: { exact: 'GET' } }], route: [{ destination: { host: 'a' } }] });
    assert.ok('route' in merged);
    assert.deepEqual(merged.route.match, [{ uri: { prefix: '/api/v1' }, method: { exact: 'GET' }, headers: { x: { exact: '1' } } }]);
    assert.equal(merged.route.timeout, '2s');
    assert.equal(merged.route.name, 'api-v1');
    const conflict = mergeHttpRoute(root, { match: [{ uri: { prefix: '/other' } }], route: [{ destination: { host: 'a' } }] });
    assert.ok('conflict' in conflict && conflict.conflict.includes('/other'));
    const header = mergeHttpRoute(root, { match: [{ headers: { x: { exact: '2' } } }], route: [{ destination: { host: 'a' } }] });
    assert.ok('conflict' in header);
  });
});
