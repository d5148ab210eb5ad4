/**
 * Local rate limit configuration is validated with field paths (what Envoy refuses, and what this proxy
 * does not do rather than silently ignoring it), and the token bucket starts full, empties, and refills
 * at tokens_per_fill per fill_interval without passing max_tokens.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { compileListener } from '../src/config-listener';
import { compileRouteConfiguration } from '../src/config-route';
import { TokenBucket } from '../src/config-local-ratelimit';

const HTTP_RL = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
const NET_RL = 'type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit';

describe('local rate limit config', () => {
  it('names every bad field of the HTTP filter and of a per-route config', () => {
    const r = compileRouteConfiguration({
      name: 'r',
      virtual_hosts: [{
        name: 'v',
        domains: ['*'],
        routes: [{
          match: { prefix: '/' },
          route: { cluster: 'c' },
          typed_per_filter_config: {
            'envoy.filters.http.local_ratelimit': {
              '@type': HTTP_RL,
              token_bucket: { max_tokens: 0, tokens_per_fill: { value: 0 }, fill_interval: { seconds: '0', nanos: 10_000_000 } },
              descriptors: [{ entries: [{ key: 'k', value: 'v' }], token_bucket: {} }],
              enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
              local_rate_limit_per_downstream_connection: true,
            },
          },
        }],
      }],
    });
    assert.ok(!r.ok);
    const base = 'route_configuration.virtual_hosts[0].routes[0].typed_per_filter_config["envoy.filters.http.local_ratelimit"]';
    const paths = r.errors.map((e) => e.path);
    for (const want of ['stat_prefix', 'token_bucket.max_tokens', 'token_bucket.tokens_per_fill', 'token_bucket.fill_interval', 'descriptors', 'enable_x_ratelimit_headers', 'local_rate_limit_per_downstream_connection']) {
      assert.ok(paths.includes(`${base}.${want}`), `missing ${base}.${want} in ${paths.join(', ')}`);
    }
    assert.match(r.errors.find((e) => e.path.endsWith('fill_interval'))?.message ?? '', /at least 50ms/);
  });

  it('a status below 400 becomes 429, as in Envoy, and the network filter needs a token bucket', () => {
    const hcm = {
      name: 'envoy.filters.network.http_connection_manager',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        stat_prefix: 'in',
        route_config: { name: 'r', virtual_hosts: [] },
        http_filters: [
          { name: 'envoy.filters.http.local_ratelimit', typed_config: { '@type': HTTP_RL, stat_prefix: 'rl', status: { code: 'OK' }, token_bucket: { max_tokens: 5, fill_interval: { seconds: '1', nanos: 0 } } } },
          { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
        ],
      },
    };
    const ok = compileListener({ name: 'l', address: { socket_address: { address: '127.0.0.1', port_value: 0 } }, filter_chains: [{ filters: [hcm] }] });
    assert.ok(ok.ok, JSON.stringify(!ok.ok && ok.errors));
    const f = ok.value.hcm?.filters[0];
    assert.ok(f?.kind === 'local_ratelimit');
    assert.equal(f.config.status, 429);
    assert.equal(f.config.enabled, 0, 'filter_enabled unset: 0% (Envoy\'s default "for safety")');
    assert.equal(f.config.bucket?.maxTokens, 5);

    const bad = compileListener({
      name: 'l',
      address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
      filter_chains: [{ filters: [{ name: 'envoy.filters.network.local_ratelimit', typed_config: { '@type': NET_RL, stat_prefix: 't' } }, { name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 't', cluster: 'c' } }] }],
    });
    assert.ok(!bad.ok);
    assert.deepEqual(bad.errors.map((e) => e.path), ['listener.filter_chains[0].filters[0].typed_config.token_bucket']);
  });
});

describe('token bucket', () => {
  it('starts full, empties, refills at the configured rate and never above max_tokens', async () => {
    const b = new TokenBucket(3, 1, 50);
    let taken = 0;
    while (taken < 10 && b.consume()) taken++;
    assert.equal(taken, 3, 'starts with max_tokens');
    assert.equal(b.consume(), false);
    // one token per 50 ms: wait (bounded) until one is back
    let back = false;
    for (let i = 0; i < 100 && !back; i++) {
      await new Promise((r) => setTimeout(r, 20));
      back = b.consume();
    }
    assert.ok(back, 'a token came back');
    await new Promise((r) => setTimeout(r, 400)); // 8 intervals: the bucket is full again, not over
    let again = 0;
    while (again < 10 && b.consume()) again++;
    assert.equal(again, 3);
  });
});
