/**
 * Interop with a real Envoy whose identity comes over SDS from a node agent (Citadel-issued): Envoy client
 * -> sidecar server over mTLS (the sidecar's RBAC admits only Envoy's SPIFFE id, Envoy checks the
 * sidecar's SAN), and sidecar client -> Envoy server over mTLS (Envoy echoes the peer URI SAN it saw, the
 * sidecar checks Envoy's SAN).
 */
import { strict as assert } from 'node:assert';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { depPath, freePort, requireDep, startEnvoy, type EnvoyHandle } from '@mesh/deps';
import { clusterLoadAssignment, edsCluster, httpRbacFilter, routeConfiguration, sdsSecretConfig, virtualHost } from '@mesh/xds';
import type { NodeAgent } from '../src/agent';
import { waitFor } from './agent-harness';
import { listener, request } from './helpers';
import { inboundListener, istioMutual, spiffe, startEchoBackend, startMesh, type Mesh, type Sidecar } from './mtls-harness';

const ENVOY_ID = spiffe('shop', 'envoy');
const SIDECAR_ID = spiffe('shop', 'server');

const tlsSocket = (kind: 'Upstream' | 'Downstream', extra: object) => ({
  name: 'envoy.transport_sockets.tls',
  typed_config: { '@type': `type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.${kind}TlsContext`, ...extra },
});

const hcm = (statPrefix: string, vhost: object) => ({
  name: 'envoy.filters.network.http_connection_manager',
  typed_config: {
    '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    stat_prefix: statPrefix,
    route_config: { virtual_hosts: [vhost] },
    http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
  },
});

/** Envoy with: an mTLS server listener (echoes the peer URI SAN), a plaintext listener routing to the sidecar over ISTIO_MUTUAL. */
function envoyConfig(sdsSocket: string, serverPort: number, clientPort: number, sidecarPort: number): object {
  const sds = { tls_certificate_sds_secret_configs: [sdsSecretConfig('default')] };
  return {
    node: { id: 'sidecar~127.0.0.1~envoy-1.shop~shop.svc.cluster.local', cluster: 'envoy.shop' },
    static_resources: {
      listeners: [
        {
          name: 'inbound-mtls',
          address: { socket_address: { address: '127.0.0.1', port_value: serverPort } },
          filter_chains: [
            {
              transport_socket: tlsSocket('Downstream', { require_client_certificate: true, common_tls_context: { ...sds, validation_context_sds_secret_config: sdsSecretConfig('ROOTCA') } }),
              filters: [
                hcm('inbound', {
                  name: 'all',
                  domains: ['*'],
                  routes: [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'envoy over mTLS' } } }],
                  response_headers_to_add: [{ header: { key: 'x-peer-uri-san', value: '%DOWNSTREAM_PEER_URI_SAN%' } }],
                }),
              ],
            },
          ],
        },
        {
          name: 'outbound',
          address: { socket_address: { address: '127.0.0.1', port_value: clientPort } },
          filter_chains: [{ filters: [hcm('outbound', { name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'to-sidecar' } }] })] }],
        },
      ],
      clusters: [
        {
          name: 'to-sidecar',
          type: 'STATIC',
          connect_timeout: '1s',
          load_assignment: { cluster_name: 'to-sidecar', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: sidecarPort } } } }] }] },
          transport_socket: tlsSocket('Upstream', {
            sni: 'outbound_.80_._.server.shop.svc.cluster.local',
            common_tls_context: {
              ...sds,
              alpn_protocols: ['istio', 'http/1.1'],
              combined_validation_context: {
                default_validation_context: { match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: SIDECAR_ID } }] },
                validation_context_sds_secret_config: sdsSecretConfig('ROOTCA'),
              },
            },
          }),
        },
        {
          name: 'sds-grpc',
          type: 'STATIC',
          connect_timeout: '1s',
          load_assignment: { cluster_name: 'sds-grpc', endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: sdsSocket } } } }] }] },
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
        },
      ],
    },
  };
}

describe('mTLS interop: real Envoy (SDS from the agent) and the sidecar', () => {
  let mesh: Mesh | undefined;
  let sidecar: Sidecar;
  let envoyAgent: NodeAgent;
  let envoy: EnvoyHandle | undefined;
  let backend: Awaited<ReturnType<typeof startEchoBackend>> | undefined;
  let envoyServerPort = 0;
  let envoyClientPort = 0;

  before(async () => {
    // Without Envoy the tests below skip (locally) or fail (CI) through requireDep.
    if (!depPath('envoy')) return;
    mesh = await startMesh();
    backend = await startEchoBackend();
    envoyAgent = await mesh.agent('shop', 'envoy', { sdsSocketPath: path.join(mesh.dir, 'envoy-sds', 'sds.sock') });
    sidecar = await mesh.sidecar('shop', 'server');
    envoyServerPort = await freePort('127.0.0.1');
    envoyClientPort = await freePort('127.0.0.1');
    const onlyEnvoy = httpRbacFilter({ action: 'ALLOW', policies: { 'ns[shop]-policy[envoy-only]-rule[0]': { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { exact: ENVOY_ID } } }] } } });
    await sidecar.push({
      listeners: [inboundListener('strict', 'STRICT', { http: [onlyEnvoy] }), listener('outbound', 'outbound')],
      routes: [
        routeConfiguration('inbound', [virtualHost('inbound', ['*'], [{ match: { prefix: '/' }, route: { cluster: 'inbound|8080||' } }])]),
        routeConfiguration('outbound', [virtualHost('all', ['*'], [{ match: { prefix: '/' }, route: { cluster: 'outbound|80||envoy.shop.svc.cluster.local' } }])]),
      ],
      clusters: [
        edsCluster({ name: 'inbound|8080||', connectTimeoutMs: 1000 }),
        { ...edsCluster({ name: 'outbound|80||envoy.shop.svc.cluster.local', connectTimeoutMs: 1000 }), ...istioMutual([ENVOY_ID], 'outbound_.80_._.envoy.shop.svc.cluster.local') },
      ],
      endpoints: [
        clusterLoadAssignment('inbound|8080||', [{ address: '127.0.0.1', port: backend.port }]),
        clusterLoadAssignment('outbound|80||envoy.shop.svc.cluster.local', [{ address: '127.0.0.1', port: envoyServerPort }]),
      ],
    });
    envoy = await startEnvoy({ config: envoyConfig(envoyAgent.sdsSocketPath ?? '', envoyServerPort, envoyClientPort, sidecar.port('strict')) });
  });

  after(async () => {
    await envoy?.stop();
    await mesh?.stop();
    await backend?.close();
  });

  it('Envoy client -> sidecar server over mTLS: the sidecar authorizes Envoy by its SPIFFE id', async (t) => {
    if (!requireDep(t, 'envoy') || !backend) return;
    // Envoy's cluster warms until both SDS secrets arrived.
    const r = await waitFor('a 200 through Envoy', async () => {
      const reply = await request(envoyClientPort, { path: '/from-envoy' }).catch(() => undefined);
      return reply?.status === 200 ? reply : undefined;
    }, 20_000);
    assert.equal(JSON.parse(r.body).url, '/from-envoy');
    assert.ok(sidecar.proxy.stats.server.rbac_allowed >= 1);
    assert.equal(sidecar.proxy.stats.server.rbac_denied, 0);
  });

  it('sidecar client -> Envoy server over mTLS: Envoy sees the sidecar identity, the sidecar checked Envoy', async (t) => {
    if (!requireDep(t, 'envoy')) return;
    const r = await waitFor('a 200 from Envoy', async () => {
      const reply = await request(sidecar.port('outbound'), { path: '/to-envoy' }).catch(() => undefined);
      return reply?.status === 200 ? reply : undefined;
    }, 20_000);
    assert.equal(r.body, 'envoy over mTLS');
    assert.equal(r.headers['x-peer-uri-san'], SIDECAR_ID);
  });
});
