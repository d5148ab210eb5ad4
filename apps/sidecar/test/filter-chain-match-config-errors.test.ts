/**
 * filter_chain_match validation names the field Envoy would name: partial wildcards in server_names, two
 * chains with the same matching rules, malformed CIDR ranges, unknown source types and ports out of
 * range; a valid match compiles into the chain (and an Istio-shaped listener stays valid).
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { compileListener } from '../src/config-listener';

const tcp = [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 't', cluster: 'c' } }];
const listener = (chains: object[], extra: object = {}) => ({ name: 'l', address: { socket_address: { address: '127.0.0.1', port_value: 0 } }, filter_chains: chains, ...extra });

describe('filter_chain_match validation', () => {
  it('names every bad field with its path', () => {
    const r = compileListener(listener([
      { filter_chain_match: { server_names: ['ok.example', 'a.*.example', 'pre*.example'] }, filters: tcp },
      { filter_chain_match: { prefix_ranges: [{ address_prefix: '10.0.0.300', prefix_len: { value: 8 } }, { address_prefix: '10.0.0.0', prefix_len: { value: 33 } }] }, filters: tcp },
      { filter_chain_match: { source_type: 'NEARBY', source_ports: [0, 70000], destination_port: { value: 70000 } }, filters: tcp },
      { filter_chain_match: { transport_protocol: 'quic' }, filters: tcp },
    ]));
    assert.ok(!r.ok);
    const paths = r.errors.map((e) => e.path);
    for (const want of [
      'listener.filter_chains[0].filter_chain_match.server_names[1]',
      'listener.filter_chains[0].filter_chain_match.server_names[2]',
      'listener.filter_chains[1].filter_chain_match.prefix_ranges[0].address_prefix',
      'listener.filter_chains[1].filter_chain_match.prefix_ranges[1].prefix_len',
      'listener.filter_chains[2].filter_chain_match.source_type',
      'listener.filter_chains[2].filter_chain_match.source_ports[0]',
      'listener.filter_chains[2].filter_chain_match.source_ports[1]',
      'listener.filter_chains[2].filter_chain_match.destination_port',
      'listener.filter_chains[3].filter_chain_match.transport_protocol',
    ]) assert.ok(paths.includes(want), `missing ${want} in ${paths.join(', ')}`);
    assert.equal(paths.filter((p) => p.includes('server_names[0]')).length, 0, 'a plain server name is valid');
  });

  it('refuses two chains with the same matching rules, even when they share only one server name', () => {
    const r = compileListener(listener([
      { name: 'one', filter_chain_match: { server_names: ['a.example', 'b.example'] }, filters: tcp },
      { name: 'two', filter_chain_match: { server_names: ['b.example'] }, filters: tcp },
    ]));
    assert.ok(!r.ok);
    assert.deepEqual(r.errors.map((e) => e.path), ['listener.filter_chains[1].filter_chain_match']);
    assert.match(r.errors[0].message, /same matching rules.*filter_chains\[0\] "one"/);
    const empty = compileListener(listener([{ filters: tcp }, { filters: tcp }]));
    assert.ok(!empty.ok, 'two chains without a match are the same rules too');
  });

  it('compiles every criterion, and the default chain apart from the matched ones', () => {
    const r = compileListener(listener(
      [{
        name: 'all',
        filter_chain_match: {
          destination_port: { value: 8443 },
          prefix_ranges: [{ address_prefix: '::ffff:10.1.0.0', prefix_len: { value: 16 } }],
          server_names: ['*.Example.COM'],
          transport_protocol: 'tls',
          application_protocols: ['h2'],
          direct_source_prefix_ranges: [{ address_prefix: 'fd00::', prefix_len: { value: 8 } }],
          source_type: 'EXTERNAL',
          source_prefix_ranges: [{ address_prefix: '192.168.0.0', prefix_len: { value: 24 } }],
          source_ports: [1234],
        },
        filters: tcp,
      }],
      { default_filter_chain: { name: 'fallback', filters: tcp } },
    ));
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    const [all, fallback] = r.value.chains;
    assert.deepEqual(
      [all.match.destinationPort, all.match.prefixRanges.map((c) => [Array.from(c.bytes), c.len]), all.match.serverNames, all.match.transportProtocol, all.match.applicationProtocols, all.match.sourceType, all.match.sourcePorts, all.isDefault],
      [8443, [[[10, 1, 0, 0], 16]], ['*.example.com'], 'tls', ['h2'], 'EXTERNAL', [1234], false],
    );
    assert.equal(fallback.name, 'fallback');
    assert.equal(fallback.isDefault, true);
    assert.equal(r.value.inspectTls, true, 'a tls/server_names match needs the TLS inspector (Envoy injects it)');
    assert.equal(r.value.inspectHttp, false);
  });
});
