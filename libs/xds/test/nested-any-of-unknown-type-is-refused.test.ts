// protobufjs turns a nested Any whose '@type' is not loaded into an empty Any; Envoy then rejects the
// listener with a message that points nowhere near the cause. encodeAny must refuse it, naming the type.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { decodeAny, encodeAny, TYPE_URL } from '../src';

function listenerWithFilter(typeUrl: string): object {
  return {
    name: 'l1',
    address: { socket_address: { address: '127.0.0.1', port_value: 15001 } },
    listener_filters: [{ name: 'envoy.filters.listener.some_filter', typed_config: { '@type': typeUrl } }],
  };
}

describe('nested Any types', () => {
  it('encodes a nested Any of a loaded type with its type URL intact', () => {
    const known = 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector';
    const decoded = decodeAny(encodeAny(TYPE_URL.LISTENER, listenerWithFilter(known))) as unknown as {
      listener_filters: { typed_config: { '@type': string } }[];
    };
    assert.equal(decoded.listener_filters[0]?.typed_config['@type'], known);
  });

  it('refuses a nested Any whose type is not loaded, naming it', () => {
    const unknown = 'type.googleapis.com/envoy.extensions.filters.listener.not_a_filter.v3.Nope';
    assert.throws(
      () => encodeAny(TYPE_URL.LISTENER, listenerWithFilter(unknown)),
      (err: Error & { code?: string }) => err.code === 'MESH_ERR_XDS_UNKNOWN_TYPE' && err.message.includes('not_a_filter'),
    );
  });
});
