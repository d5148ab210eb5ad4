/**
 * Validation at the edge: every bad field of a resource is reported with its path (what goes into the
 * NACK), and nothing of a refused update is applied.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { compileCluster, compileEndpoints } from '../src/config-cluster';
import { compileListener } from '../src/config-listener';
import { compileRouteConfiguration } from '../src/config-route';
import { ConfigStore, TYPE } from '../src/config-store';

const paths = (r: { ok: boolean; errors?: { path: string }[] }): string[] => (r.ok ? [] : (r.errors ?? []).map((e) => e.path));

describe('config validation', () => {
  it('names every bad field of a route configuration', () => {
    const r = compileRouteConfiguration({
      name: 'r',
      virtual_hosts: [
        {
          name: 'a',
          domains: ['x', 'x'],
          routes: [
            { match: { safe_regex: { regex: '([' } }, route: { cluster: 'c' } },
            { match: { prefix: '/' }, route: { cluster: 'c' }, request_headers_to_add: [{ header: { key: 'x-evil', value: 'a\r\nb' } }] },
            { match: { prefix: '/' }, direct_response: { status: 99 } },
            { match: { prefix: '/' }, route: { cluster: 'c', retry_policy: { retry_on: '5xx,bogus' } } },
            { match: { prefix: '/' } },
          ],
        },
      ],
    });
    assert.ok(!r.ok);
    const p = paths(r);
    for (const want of [
      'route_configuration.virtual_hosts[0].domains[1]',
      'route_configuration.virtual_hosts[0].routes[0].match.safe_regex.regex',
      'route_configuration.virtual_hosts[0].routes[1].request_headers_to_add[0].header.value',
      'route_configuration.virtual_hosts[0].routes[2].direct_response.status',
      'route_configuration.virtual_hosts[0].routes[3].route.retry_policy.retry_on',
      'route_configuration.virtual_hosts[0].routes[4]',
    ]) assert.ok(p.includes(want), `${want} not in ${p.join('\n')}`);
  });

  it('names bad listener, cluster and endpoint fields', () => {
    const l = compileListener({
      name: 'l',
      address: { socket_address: { address: '127.0.0.1', port_value: 70000 } },
      filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager', stat_prefix: 's', http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }, { name: 'x.unknown', typed_config: { '@type': 'type.googleapis.com/x.Unknown' } }] } }] }],
    });
    const lp = paths(l);
    assert.ok(lp.includes('listener.address.socket_address.port_value'), lp.join('\n'));
    assert.ok(lp.some((p) => p.endsWith('http_filters[0]')), lp.join('\n'));
    assert.ok(lp.some((p) => p.endsWith('http_filters[1]')), lp.join('\n'));
    assert.ok(lp.some((p) => p.endsWith('typed_config')), 'missing rds/route_config not reported');
    const c = compileCluster({ name: 'c', type: 'STATIC', lb_policy: 'WEIRD' });
    assert.deepEqual(paths(c).sort(), ['cluster.lb_policy', 'cluster.load_assignment']);
    const e = compileEndpoints({ cluster_name: 'c', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '', port_value: 80 } } } }] }] });
    assert.deepEqual(paths(e), ['cluster_load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address']);
  });

  it('refuses a whole update when one resource is bad and keeps the last good set', () => {
    const store = new ConfigStore();
    const good = { name: 'c1', type: 'EDS', eds_cluster_config: {} };
    assert.ok(store.update(TYPE.CLUSTER, [good], 'v1').ok);
    const r = store.update(TYPE.CLUSTER, [good, { name: 'c2', type: 'EDS', lb_policy: 'NOPE' }], 'v2');
    assert.ok(!r.ok);
    assert.equal(r.errors[0]?.resource, 'c2');
    assert.equal(r.errors[0]?.path, 'lb_policy');
    assert.equal(store.clusters.version, 'v1');
    assert.deepEqual([...store.clusters.resources.keys()], ['c1']);
    assert.match(store.clusters.lastError?.message ?? '', /c2: lb_policy: unsupported lb_policy NOPE/);
  });
});
