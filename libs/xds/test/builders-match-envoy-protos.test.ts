/**
 * Every builder produces fields that exist in Envoy's protos (no silently dropped field), and the shape
 * survives encode -> decode (the canonical form is the decoded form).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  apiListener,
  clusterLoadAssignment,
  clusterRoute,
  corsFilter,
  corsPolicyConfig,
  decodeAny,
  durationFromMs,
  durationToMs,
  edsCluster,
  encodeAny,
  EXTENSION_TYPE_URL,
  faultFilter,
  faultPerRouteConfig,
  hcmNetworkFilter,
  httpConnectionManager,
  httpFault,
  httpListener,
  httpRbacFilter,
  istioMutualTlsContext,
  jsonToStruct,
  networkRbacFilter,
  routeConfiguration,
  socketListener,
  staticCluster,
  structToJson,
  tcpProxyFilter,
  tlsCertificateSecret,
  TYPE_URL,
  unknownFields,
  schemaProblems,
  upstreamTlsTransportSocket,
  downstreamTlsTransportSocket,
  validationContextSecret,
  virtualHost,
  weightedRoute,
  exactHeader,
} from '../src/index';

/** Every leaf of `expected` is present with the same value in `actual` (bytes decode to Buffers). */
function assertContains(actual: unknown, expected: unknown, path = ''): void {
  if (Buffer.isBuffer(expected)) {
    assert.ok(Buffer.isBuffer(actual) && actual.equals(expected), path);
    return;
  }
  if (expected !== null && typeof expected === 'object') {
    assert.ok(actual !== null && typeof actual === 'object', `${path} is an object`);
    for (const [k, v] of Object.entries(expected)) assertContains((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
    return;
  }
  assert.equal(actual, expected, path);
}

function roundTrip(typeUrl: string, resource: object): void {
  assert.deepEqual(schemaProblems(typeUrl, resource), [], 'no unknown fields, enum names or bad numbers');
  const decoded = decodeAny(encodeAny(typeUrl, resource));
  assert.equal(decoded['@type'], typeUrl);
  assertContains(decoded, resource);
}

describe('builders match Envoy v3 protos', () => {
  it('listener with HCM, fault, RBAC, CORS and router; TCP proxy; downstream TLS', () => {
    const hcm = httpConnectionManager({
      statPrefix: 'inbound',
      routeConfigName: 'r1',
      filters: [
        faultFilter(),
        corsFilter(),
        httpRbacFilter({
          action: 'ALLOW',
          policies: { p: { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { exact: 'spiffe://cluster.local/ns/a/sa/b' } } }] } },
        }),
      ],
    });
    assert.equal(hcm.http_filters.at(-1)?.name, 'envoy.filters.http.router', 'router last');
    roundTrip(TYPE_URL.LISTENER, httpListener({ name: 'http', address: '0.0.0.0', port: 8080, hcm }));
    roundTrip(
      TYPE_URL.LISTENER,
      socketListener({
        name: 'tcp',
        address: '127.0.0.1',
        port: 9000,
        direction: 'INBOUND',
        filterChains: [
          {
            filters: [networkRbacFilter({ action: 'DENY', policies: {} }, 'tcp'), tcpProxyFilter({ stat_prefix: 'tcp', cluster: 'c' })],
            transport_socket: downstreamTlsTransportSocket({ common_tls_context: istioMutualTlsContext(), require_client_certificate: { value: true } }),
          },
        ],
      }),
    );
    roundTrip(TYPE_URL.LISTENER, apiListener('svc.ns:80', httpConnectionManager({ statPrefix: 'grpc', routeConfigName: 'svc.ns:80' })));
    roundTrip(TYPE_URL.LISTENER, { name: 'x', address: { socket_address: { address: '::1', port_value: 1 } }, filter_chains: [{ filters: [hcmNetworkFilter(hcm)] }] });
  });

  it('route configuration with weights, headers, retries, rewrite, redirect, fault and CORS per route', () => {
    const rc = routeConfiguration('80', [
      virtualHost('reviews', ['reviews', 'reviews:80'], [
        weightedRoute({ prefix: '/', headers: [exactHeader('end-user', 'jason')] }, [
          { name: 'v1', weight: 80 },
          { name: 'v2', weight: 20 },
        ], {
          timeout: durationFromMs(1500),
          retry_policy: { retry_on: '5xx,connect-failure', num_retries: { value: 3 }, per_try_timeout: durationFromMs(200) },
          prefix_rewrite: '/new',
          hash_policy: [{ header: { header_name: 'x-user' } }],
          request_mirror_policies: [{ cluster: 'mirror', runtime_fraction: { default_value: { numerator: 50, denominator: 'HUNDRED' } } }],
        }),
        {
          match: { path: '/old' },
          redirect: { path_redirect: '/new', response_code: 'MOVED_PERMANENTLY' },
        },
        { match: { safe_regex: { regex: '^/x.*' } }, direct_response: { status: 503, body: { inline_string: 'no' } } },
        {
          ...clusterRoute('/f', 'v1'),
          typed_per_filter_config: {
            'envoy.filters.http.fault': faultPerRouteConfig(httpFault({ abortHttpStatus: 500, abortPercent: 10, delayMs: 100, delayPercent: 5 })),
            'envoy.filters.http.cors': corsPolicyConfig({ allow_origin_string_match: [{ exact: 'https://a' }], allow_methods: 'GET' }),
          },
          request_headers_to_add: [{ header: { key: 'x-a', value: '1' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
          response_headers_to_remove: ['server'],
        },
      ]),
    ]);
    roundTrip(TYPE_URL.ROUTE, rc);
  });

  it('clusters (EDS with TLS and HTTP/2, STATIC), endpoints with localities and weights', () => {
    const eds = edsCluster({ name: 'outbound|80||reviews', serviceName: 'reviews', lbPolicy: 'RING_HASH', http2: true });
    eds.transport_socket = upstreamTlsTransportSocket({ common_tls_context: istioMutualTlsContext({ peerSans: ['spiffe://cluster.local/ns/a/sa/b'] }), sni: 'reviews' });
    eds.circuit_breakers = { thresholds: [{ max_requests: { value: 10 }, max_pending_requests: { value: 5 } }] };
    eds.outlier_detection = { consecutive_5xx: { value: 2 }, interval: durationFromMs(1000), base_ejection_time: durationFromMs(30_000) };
    roundTrip(TYPE_URL.CLUSTER, eds);
    roundTrip(TYPE_URL.CLUSTER, staticCluster('s', clusterLoadAssignment('s', [{ address: '127.0.0.1', port: 1 }])));
    const cla = clusterLoadAssignment('reviews', [
      { address: '10.0.0.1', port: 9080, weight: 3, locality: { region: 'r', zone: 'z' } },
      { address: '10.0.0.2', port: 9080, health: 'HEALTHY' },
    ]);
    assert.equal(cla.endpoints.length, 2, 'grouped by locality');
    assert.ok(cla.endpoints.every((e) => e.load_balancing_weight.value > 0), 'every locality has a weight (grpc-js-xds)');
    roundTrip(TYPE_URL.ENDPOINT, cla);
  });

  it('secrets (default, ROOTCA), durations and Struct helpers', () => {
    roundTrip(TYPE_URL.SECRET, tlsCertificateSecret('default', '-----BEGIN CERTIFICATE-----', '-----BEGIN PRIVATE KEY-----'));
    roundTrip(TYPE_URL.SECRET, validationContextSecret('ROOTCA', '-----BEGIN CERTIFICATE-----'));
    assert.deepEqual(durationFromMs(1500), { seconds: '1', nanos: 500_000_000 });
    assert.equal(durationToMs(durationFromMs(2250)), 2250);
    const meta = { NAMESPACE: 'ns', LABELS: { app: 'a' }, PORTS: [1, 2], ON: true, NONE: null };
    assert.deepEqual(structToJson(jsonToStruct(meta)), meta);
  });

  it('reports unknown fields and unknown types with their path', () => {
    const hcm = httpConnectionManager({ statPrefix: 's', routeConfigName: 'r' }) as unknown as Record<string, unknown>;
    hcm.rds_typo = true;
    const l = httpListener({ name: 'l', address: '0.0.0.0', port: 1, hcm: hcm as never });
    assert.deepEqual(unknownFields(TYPE_URL.LISTENER, l), ['filter_chains[0].filters[0].typed_config.rds_typo']);
    assert.throws(() => encodeAny('type.googleapis.com/no.Such', {}), /MESH_ERR_XDS_UNKNOWN_TYPE|unknown xDS type URL/);
    const bad = { name: 'c', type: 'NOPE', connect_timeout: { seconds: 'abc', nanos: 0 }, lb_policy: 'ROUND_ROBIN', per_connection_buffer_limit_bytes: { value: 5 } };
    assert.deepEqual(schemaProblems(TYPE_URL.CLUSTER, bad), [
      { path: 'type', message: 'unknown DiscoveryType value "NOPE"' },
      { path: 'connect_timeout.seconds', message: 'int64 expected, got "abc"' },
    ]);
    assert.equal(EXTENSION_TYPE_URL.ROUTER.endsWith('.Router'), true);
  });
});
