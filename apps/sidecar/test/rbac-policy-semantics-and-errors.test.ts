/**
 * Envoy RBAC semantics of the compiled policies (CIDR principals for IPv4 and IPv6, not_id / or_ids /
 * and_rules, destination port, LOG and DENY actions, no rules = no enforcement) and validation at the edge:
 * a bad RBAC filter or filter chain match is refused with the field path that goes into the NACK.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { compileListener } from '../src/config-listener';
import { Issues } from '../src/config-fields';
import { compileRbacFilter, compileRbacRules, evaluateRbac, type RbacInput } from '../src/rbac-policy';

const input = (o: Partial<RbacInput>): RbacInput => ({ principal: '', remoteIp: '127.0.0.1', destinationIp: '127.0.0.1', destinationPort: 8080, headers: {}, path: '/', ...o });

function rules(action: string, policies: object) {
  const issues = new Issues();
  const r = compileRbacRules({ action, policies }, 'rules', issues);
  assert.deepEqual(issues.list, []);
  return r;
}

describe('RBAC policy semantics', () => {
  it('matches CIDR principals for IPv4, IPv4-mapped IPv6 and IPv6', () => {
    const r = rules('ALLOW', {
      v4: { permissions: [{ any: true }], principals: [{ direct_remote_ip: { address_prefix: '10.1.0.0', prefix_len: { value: 16 } } }] },
      v6: { permissions: [{ any: true }], principals: [{ source_ip: { address_prefix: 'fd00::', prefix_len: { value: 8 } } }] },
    });
    assert.equal(evaluateRbac(r, input({ remoteIp: '10.1.200.3' })).policy, 'v4');
    assert.equal(evaluateRbac(r, input({ remoteIp: '::ffff:10.1.0.9' })).allowed, true);
    assert.equal(evaluateRbac(r, input({ remoteIp: '10.2.0.1' })).allowed, false);
    assert.equal(evaluateRbac(r, input({ remoteIp: 'fd12:3456::1' })).policy, 'v6');
    assert.equal(evaluateRbac(r, input({ remoteIp: 'fe80::1' })).allowed, false);
  });

  it('combines ids and rules: not_id, or_ids, and_rules with destination port', () => {
    const r = rules('DENY', {
      'not-mesh-on-9090': {
        permissions: [{ and_rules: { rules: [{ destination_port: 9090 }, { not_rule: { url_path: { path: { prefix: '/healthz' } } } }] } }],
        principals: [{ not_id: { or_ids: { ids: [{ authenticated: { principal_name: { prefix: 'spiffe://cluster.local/' } } }, { header: { name: 'x-internal', present_match: true } }] } } }],
      },
    });
    assert.equal(evaluateRbac(r, input({ destinationPort: 9090, path: '/data' })).allowed, false, 'anonymous on 9090 is denied');
    assert.equal(evaluateRbac(r, input({ destinationPort: 9090, path: '/healthz' })).allowed, true, 'health checks pass');
    assert.equal(evaluateRbac(r, input({ destinationPort: 9090, principal: 'spiffe://cluster.local/ns/a/sa/b' })).allowed, true);
    assert.equal(evaluateRbac(r, input({ destinationPort: 9090, headers: { 'x-internal': '1' } })).allowed, true);
    assert.equal(evaluateRbac(r, input({ destinationPort: 8080 })).allowed, true, 'other ports untouched');
  });

  it('header and path permissions never match a TCP connection (network RBAC)', () => {
    const r = rules('ALLOW', { p: { permissions: [{ header: { name: 'x-a', present_match: true } }], principals: [{ any: true }] } });
    assert.equal(evaluateRbac(r, input({ headers: undefined, path: undefined })).allowed, false);
    assert.equal(evaluateRbac(r, input({ headers: { 'x-a': '' } })).allowed, true);
  });

  it('LOG always allows and reports the matched policy; a filter without rules enforces nothing', () => {
    const r = rules('LOG', { audit: { permissions: [{ url_path: { path: { exact: '/secret' } } }], principals: [{ any: true }] } });
    assert.deepEqual(evaluateRbac(r, input({ path: '/secret?x=1' })), { allowed: true, policy: 'audit' });
    assert.deepEqual(evaluateRbac(r, input({ path: '/open' })), { allowed: true, policy: '' });
    const issues = new Issues();
    assert.deepEqual(compileRbacFilter({}, 'f', issues), { rules: undefined, shadow: undefined });
  });
});

describe('RBAC and filter chain validation', () => {
  it('names every bad field of an RBAC filter and of a filter chain match', () => {
    const rbac = {
      name: 'envoy.filters.http.rbac',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
        rules: {
          action: 'ALLOW',
          policies: {
            bad: {
              permissions: [{ url_path: { path: { safe_regex: { regex: '([' } } } }, {}],
              principals: [{ direct_remote_ip: { address_prefix: 'not-an-ip', prefix_len: { value: 8 } } }],
            },
            empty: { permissions: [], principals: [{ any: true }] },
          },
        },
      },
    };
    const hcm = {
      name: 'envoy.filters.network.http_connection_manager',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        stat_prefix: 'in',
        route_config: { name: 'r', virtual_hosts: [] },
        http_filters: [rbac, { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
      },
    };
    const r = compileListener({
      name: 'in',
      address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
      filter_chains: [
        { filter_chain_match: { transport_protocol: 'quic' }, filters: [hcm] },
        { filter_chain_match: { server_names: ['a*.example'] }, filters: [hcm] },
      ],
    });
    assert.ok(!r.ok);
    const paths = r.errors.map((e) => e.path);
    const base = 'listener.filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.rules.policies';
    for (const want of [
      `${base}["bad"].permissions[0].url_path.path.safe_regex.regex`,
      `${base}["bad"].permissions[1]`,
      `${base}["bad"].principals[0].direct_remote_ip.address_prefix`,
      `${base}["empty"].permissions`,
      'listener.filter_chains[0].filter_chain_match.transport_protocol',
      'listener.filter_chains[1].filter_chain_match.server_names[0]',
    ]) {
      assert.ok(paths.includes(want), `missing ${want} in ${paths.join(', ')}`);
    }
  });

  it('compiles an Istio PERMISSIVE listener into two chains and SDS TLS', () => {
    const filters = [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 't', cluster: 'c' } }];
    const r = compileListener({
      name: 'virtualInbound',
      address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
      filter_chains: [
        {
          filter_chain_match: { transport_protocol: 'tls', destination_port: { value: 9000 } },
          filters,
          transport_socket: {
            name: 'envoy.transport_sockets.tls',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
              require_client_certificate: { value: true },
              common_tls_context: { tls_certificate_sds_secret_configs: [{ name: 'default' }], combined_validation_context: { default_validation_context: {}, validation_context_sds_secret_config: { name: 'ROOTCA' } } },
            },
          },
        },
        { filter_chain_match: { transport_protocol: 'raw_buffer' }, filters },
      ],
    });
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    assert.equal(r.value.chains.length, 2);
    assert.deepEqual(
      r.value.chains.map((c) => [c.transportProtocol, c.destinationPort, c.tls?.sdsCert, c.tls?.sdsCa, c.tls?.requireClientCert]),
      [
        ['tls', 9000, 'default', 'ROOTCA', true],
        ['raw_buffer', 0, undefined, undefined, undefined],
      ],
    );
    assert.match(r.value.socketKey, /\/chains$/);
  });
});
