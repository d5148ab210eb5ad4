import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { Cluster, ClusterLoadAssignment, RouteConfiguration } from '@mesh/xds';
import { validateYaml } from '@mesh/config';
import type { ConfigObject } from '@mesh/config';
import { generateEds } from './generator-eds';
import type { Proxy } from './proxy';
import { computeScope, scopeKey } from './proxy-scope';
import { PushContext } from './push-context';
import { ConfigServiceRegistry } from './registry-config';
import { buildClusters } from './translate-cluster';
import { buildListeners } from './translate-listener';
import { buildRouteConfigs } from './translate-route-config';

function pushFrom(yaml: string): PushContext {
  const configs: ConfigObject[] = validateYaml(yaml, 't.yaml').map((r) => {
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return r.config;
  });
  const of = (k: string): ConfigObject[] => configs.filter((c) => c.kind === k);
  return new PushContext(
    '1',
    new ConfigServiceRegistry(of('ServiceEntry'), of('WorkloadEntry')),
    { virtualServices: of('VirtualService'), destinationRules: of('DestinationRule'), sidecars: of('Sidecar') },
    { rootNamespace: 'istio-system', domainSuffix: 'cluster.local' },
  );
}

function proxy(over: Partial<Proxy> = {}): Proxy {
  return { id: 'sidecar~1.1.1.1~p.app~app.svc.cluster.local', type: 'sidecar', ip: '1.1.1.1', podName: 'p', namespace: 'app', dnsDomain: '', labels: {}, generator: 'envoy', interception: 'REDIRECT', ...over };
}

const MESH = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: app}
spec:
  hosts: [reviews.app.svc.cluster.local]
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: reviews}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: other, namespace: elsewhere}
spec:
  hosts: [other.elsewhere.svc.cluster.local]
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  endpoints: [{address: 10.0.0.9}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: r1, namespace: app}
spec: {address: 10.0.0.1, labels: {app: reviews, version: v1}, locality: us/zone-a, weight: 3}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: r2, namespace: app}
spec: {address: 10.0.0.2, labels: {app: reviews, version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: app}
spec:
  host: reviews
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: 7, connectTimeout: 2s}, http: {http1MaxPendingRequests: 3}}
    outlierDetection: {consecutive5xxErrors: 4, interval: 5s, baseEjectionTime: 1m}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy: {loadBalancer: {consistentHash: {httpCookie: {name: user, ttl: 10s}}}}
  - {name: v2, labels: {version: v2}}
`;

describe('translation', () => {
  it('names clusters outbound|port|subset|host and applies the DestinationRule', () => {
    const push = pushFrom(MESH);
    const clusters = buildClusters(push, computeScope(push, proxy())) as Cluster[];
    const byName = new Map(clusters.map((c) => [c.name, c]));
    const base = byName.get('outbound|9080||reviews.app.svc.cluster.local');
    const v1 = byName.get('outbound|9080|v1|reviews.app.svc.cluster.local');
    assert.ok(base && v1 && byName.has('outbound|9080|v2|reviews.app.svc.cluster.local'), [...byName.keys()].join());
    assert.equal(base.lb_policy, 'LEAST_REQUEST', "Istio's default for Envoy");
    assert.equal(v1.lb_policy, 'RING_HASH');
    assert.deepEqual(base.connect_timeout, { seconds: '2', nanos: 0 });
    assert.equal(base.circuit_breakers?.thresholds[0]?.max_connections?.value, 7);
    assert.equal(base.circuit_breakers?.thresholds[0]?.max_pending_requests?.value, 3);
    assert.equal(base.outlier_detection?.consecutive_5xx?.value, 4);
    assert.deepEqual(base.outlier_detection?.base_ejection_time, { seconds: '60', nanos: 0 });
    const grpcClusters = buildClusters(push, computeScope(push, proxy({ generator: 'grpc' }))) as Cluster[];
    assert.equal(grpcClusters.find((c) => c.name === base.name)?.lb_policy, 'ROUND_ROBIN', 'grpc-js-xds has no LEAST_REQUEST');
  });

  it('gives every locality a weight and a subset only its own endpoints', () => {
    const push = pushFrom(MESH);
    const cla = generateEds(push, computeScope(push, proxy())) as ClusterLoadAssignment[];
    const base = cla.find((c) => c.cluster_name === 'outbound|9080||reviews.app.svc.cluster.local');
    assert.equal(base?.endpoints.length, 2, 'two localities');
    for (const l of base?.endpoints ?? []) assert.ok(l.load_balancing_weight.value > 0);
    assert.equal(base?.endpoints.find((l) => l.locality.zone === 'zone-a')?.load_balancing_weight.value, 3);
    const v2 = cla.find((c) => c.cluster_name === 'outbound|9080|v2|reviews.app.svc.cluster.local');
    assert.deepEqual(v2?.endpoints.flatMap((l) => l.lb_endpoints.map((e) => e.endpoint.address.socket_address.address)), ['10.0.0.2']);
  });

  it("uses Istio's defaults without a VirtualService: no timeout, 2 retries", () => {
    const push = pushFrom(MESH);
    const [rc] = buildRouteConfigs(push, computeScope(push, proxy())) as RouteConfiguration[];
    const vh = rc?.virtual_hosts.find((v) => v.name === 'reviews.app.svc.cluster.local:9080');
    assert.ok(vh?.domains.includes('reviews.app:9080') && vh.domains.includes('reviews.app.svc.cluster.local'), JSON.stringify(vh?.domains));
    assert.ok(vh?.domains.includes('reviews:9080') && vh.domains.includes('reviews'), 'a proxy in the same namespace may call the bare name');
    const [other] = buildRouteConfigs(push, computeScope(push, proxy({ namespace: 'elsewhere' }))) as RouteConfiguration[];
    const otherVh = other?.virtual_hosts.find((v) => v.name === 'reviews.app.svc.cluster.local:9080');
    assert.ok(otherVh && !otherVh.domains.includes('reviews:9080'), 'the bare name is only for the same namespace');
    const route = vh?.routes[0]?.route;
    assert.equal(route?.cluster, 'outbound|9080||reviews.app.svc.cluster.local');
    assert.deepEqual(route?.timeout, { seconds: '0', nanos: 0 });
    assert.equal(route?.retry_policy?.num_retries?.value, 2);
    assert.equal(route?.retry_policy?.retry_on, 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes');
  });

  it('translates matches, header operations, CORS, direct responses and hash policies', () => {
    const push = pushFrom(`${MESH}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: app}
spec:
  hosts: [reviews]
  http:
  - match:
    - uri: {regex: "/api/v[0-9]+"}
      method: {exact: POST}
      queryParams: {debug: {exact: "1"}}
      withoutHeaders: {x-skip: {exact: "yes"}}
    headers: {request: {set: {x-a: "1"}, add: {x-b: "2"}, remove: [x-c]}}
    corsPolicy: {allowOrigins: [{prefix: "https://"}], allowMethods: [GET, POST], maxAge: 24h}
    route: [{destination: {host: reviews, subset: v1}}]
  - match: [{uri: {exact: /teapot}}]
    directResponse: {status: 418, body: {string: short and stout}}
  - match: [{sourceLabels: {app: nobody}}]
    route: [{destination: {host: reviews, subset: v2}}]
`);
    const [rc] = buildRouteConfigs(push, computeScope(push, proxy())) as RouteConfiguration[];
    const routes = rc?.virtual_hosts.find((v) => v.name.startsWith('reviews.'))?.routes ?? [];
    assert.equal(routes.length, 2, 'the sourceLabels route does not apply to this proxy');
    const [api, teapot] = routes;
    assert.deepEqual(api?.match.safe_regex, { regex: '/api/v[0-9]+' });
    assert.deepEqual(api?.match.headers, [
      { name: ':method', string_match: { exact: 'POST' } },
      { name: 'x-skip', string_match: { exact: 'yes' }, invert_match: true },
    ]);
    assert.deepEqual(api?.match.query_parameters, [{ name: 'debug', string_match: { exact: '1' } }]);
    assert.deepEqual(api?.request_headers_to_add, [
      { header: { key: 'x-a', value: '1' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
      { header: { key: 'x-b', value: '2' }, append_action: 'APPEND_IF_EXISTS_OR_ADD' },
    ]);
    assert.deepEqual(api?.request_headers_to_remove, ['x-c']);
    const cors = api?.typed_per_filter_config?.['envoy.filters.http.cors'] as Record<string, unknown> | undefined;
    assert.equal(cors?.allow_methods, 'GET,POST');
    assert.equal(cors?.max_age, '86400');
    assert.deepEqual(api?.route?.hash_policy, [{ cookie: { name: 'user', ttl: { seconds: '10', nanos: 0 } } }]);
    assert.deepEqual(teapot?.direct_response, { status: 418, body: { inline_string: 'short and stout' } });
  });

  it('limits a proxy to its Sidecar egress hosts and shares one class per scope', () => {
    const push = pushFrom(`${MESH}---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: app}
spec:
  egress: [{hosts: ["./*"]}]
`);
    const scope = computeScope(push, proxy());
    assert.deepEqual(scope.services.map((s) => s.hostname), ['reviews.app.svc.cluster.local']);
    assert.equal(scopeKey(push, proxy({ id: 'a' })), scopeKey(push, proxy({ id: 'b', ip: '2.2.2.2' })));
    assert.notEqual(scopeKey(push, proxy()), scopeKey(push, proxy({ namespace: 'elsewhere' })));
    const other = computeScope(push, proxy({ namespace: 'elsewhere' }));
    assert.equal(other.services.length, 2, 'no Sidecar in that namespace: everything is visible');
  });

  it('gives proxyless gRPC api_listeners named host:port and Envoy socket listeners', () => {
    const push = pushFrom(MESH);
    const grpc = buildListeners(push, computeScope(push, proxy({ generator: 'grpc' })));
    assert.deepEqual(grpc.map((l) => l.name).sort(), ['other.elsewhere.svc.cluster.local:9080', 'reviews.app.svc.cluster.local:9080']);
    assert.ok(grpc.every((l) => l.api_listener && !l.address));
    const envoy = buildListeners(push, computeScope(push, proxy()));
    assert.deepEqual(envoy.map((l) => [l.name, l.bind_to_port?.value]), [['0.0.0.0_9080', false]]);
    assert.deepEqual(buildListeners(push, computeScope(push, proxy({ interception: 'NONE' }))), [], 'no capture and no Sidecar: nothing to bind');
  });

  it('builds a bound egress listener, TCP routes with weights, and an inbound listener from the Sidecar', () => {
    const push = pushFrom(`${MESH}---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db, namespace: app}
spec:
  hosts: [db.app.svc.cluster.local]
  resolution: STATIC
  ports: [{number: 5432, name: tcp-pg, protocol: TCP}]
  endpoints: [{address: 10.0.0.5, labels: {v: a}}, {address: 10.0.0.6, labels: {v: b}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db, namespace: app}
spec:
  host: db.app.svc.cluster.local
  subsets: [{name: a, labels: {v: a}}, {name: b, labels: {v: b}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: app}
spec:
  hosts: [db.app.svc.cluster.local]
  tcp:
  - route:
    - {destination: {host: db.app.svc.cluster.local, subset: a}, weight: 90}
    - {destination: {host: db.app.svc.cluster.local, subset: b}, weight: 10}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: client, namespace: app}
spec:
  workloadSelector: {labels: {role: client}}
  ingress: [{port: {number: 8000, protocol: HTTP, name: http}, defaultEndpoint: "127.0.0.1:8080"}]
  egress:
  - {port: {number: 9080, protocol: HTTP, name: http}, bind: 127.0.0.2, captureMode: NONE, hosts: ["./*"]}
  - {port: {number: 5432, protocol: TCP, name: tcp}, bind: 127.0.0.2, captureMode: NONE, hosts: ["./*"]}
`);
    const scope = computeScope(push, proxy({ labels: { role: 'client' }, interception: 'NONE' }));
    const listeners = buildListeners(push, scope);
    assert.deepEqual(listeners.map((l) => l.name).sort(), ['0.0.0.0_8000', '127.0.0.2_5432', '127.0.0.2_9080']);
    const tcp = listeners.find((l) => l.name === '127.0.0.2_5432')?.filter_chains?.[0]?.filters[0]?.typed_config as Record<string, unknown>;
    assert.deepEqual(tcp.weighted_clusters, {
      clusters: [
        { name: 'outbound|5432|a|db.app.svc.cluster.local', weight: 90 },
        { name: 'outbound|5432|b|db.app.svc.cluster.local', weight: 10 },
      ],
    });
    const inbound = buildClusters(push, scope).find((c) => c.name === 'inbound|8000||');
    assert.equal(inbound?.type, 'STATIC');
    assert.equal(inbound?.load_assignment?.endpoints[0]?.lb_endpoints[0]?.endpoint.address.socket_address.port_value, 8080);
    const routes = buildRouteConfigs(push, scope).map((r) => r.name);
    assert.deepEqual(routes, ['9080'], 'one route config for the HTTP egress port, none for TCP');
  });

  it("builds unbound inbound listeners from a captured proxy's own WorkloadEntry ports", () => {
    const push = pushFrom(MESH.replace('spec: {address: 10.0.0.1,', 'spec: {address: 10.0.0.1, ports: {http: 9090},'));
    const own = proxy({ ip: '10.0.0.1' });
    const listeners = buildListeners(push, computeScope(push, own));
    const inbound = listeners.find((l) => l.name === '10.0.0.1_9090');
    assert.ok(inbound, listeners.map((l) => l.name).join());
    assert.deepEqual(inbound.bind_to_port, { value: false });
    assert.ok(buildClusters(push, computeScope(push, own)).some((c) => c.name === 'inbound|9090||'));
    assert.notEqual(scopeKey(push, own), scopeKey(push, proxy({ ip: '10.9.9.9' })), 'its own class');
    assert.ok(!buildListeners(push, computeScope(push, proxy({ ip: '10.9.9.9' }))).some((l) => l.traffic_direction === 'INBOUND'));
  });
});
