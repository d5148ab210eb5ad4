/**
 * The server reads ACK-shaped requests with a small decoder (wire.ts) and everything else with protobuf:
 * for every request shape, what the server's stream code reads must be what the protobuf decoder gives,
 * and a request the small decoder cannot fully read (node, error_detail, initial versions) goes to protobuf.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import { loadXdsProtos, TYPE_URL } from '../src/index';
import { decodeSimpleDeltaDiscoveryRequest, decodeSimpleDiscoveryRequest } from '../src/wire';

const protos = loadXdsProtos();
const ads = protos.serviceDefinition('envoy.service.discovery.v3.AggregatedDiscoveryService');
const method = (name: string): grpc.MethodDefinition<object, object> => ads[name] as grpc.MethodDefinition<object, object>;

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, o[k]]));
}

describe('ACK decoding', () => {
  it('reads SotW ACKs exactly as protobuf does and leaves other requests to it', () => {
    const m = method('StreamAggregatedResources');
    const keys = ['version_info', 'resource_names', 'type_url', 'response_nonce', 'error_detail'];
    const simple = [
      { type_url: TYPE_URL.ENDPOINT, version_info: 'v1', response_nonce: 'abc-1', resource_names: ['outbound|80||a.ns.svc.cluster.local', 'ünï|cødé'] },
      { type_url: TYPE_URL.CLUSTER, response_nonce: 'n'.repeat(300) },
      {},
    ];
    for (const req of simple) {
      const bytes = m.requestSerialize(req);
      const fast = decodeSimpleDiscoveryRequest(bytes);
      assert.ok(fast, JSON.stringify(req));
      assert.deepEqual(pick(fast, keys), pick(m.requestDeserialize(bytes) as Record<string, unknown>, keys));
    }
    for (const req of [
      { type_url: TYPE_URL.CLUSTER, node: { id: 'n1' } },
      { type_url: TYPE_URL.CLUSTER, response_nonce: 'x', error_detail: { code: 3, message: 'bad' } },
    ]) {
      assert.equal(decodeSimpleDiscoveryRequest(m.requestSerialize(req)), undefined, JSON.stringify(req));
    }
  });

  it('reads Delta ACKs exactly as protobuf does and leaves other requests to it', () => {
    const m = method('DeltaAggregatedResources');
    const keys = ['type_url', 'resource_names_subscribe', 'resource_names_unsubscribe', 'response_nonce', 'error_detail'];
    const simple = [
      { type_url: TYPE_URL.ENDPOINT, response_nonce: 'abc-2', resource_names_subscribe: ['a', 'b'], resource_names_unsubscribe: ['c'] },
      { type_url: TYPE_URL.ROUTE, response_nonce: 'z' },
    ];
    for (const req of simple) {
      const bytes = m.requestSerialize(req);
      const fast = decodeSimpleDeltaDiscoveryRequest(bytes);
      assert.ok(fast, JSON.stringify(req));
      assert.deepEqual(pick(fast, keys), pick(m.requestDeserialize(bytes) as Record<string, unknown>, keys));
    }
    for (const req of [
      { type_url: TYPE_URL.CLUSTER, node: { id: 'n1' } },
      { type_url: TYPE_URL.CLUSTER, initial_resource_versions: { a: '1' } },
      { type_url: TYPE_URL.CLUSTER, response_nonce: 'x', error_detail: { code: 3, message: 'bad' } },
    ]) {
      assert.equal(decodeSimpleDeltaDiscoveryRequest(m.requestSerialize(req)), undefined, JSON.stringify(req));
    }
    // Truncated bytes are not guessed at.
    const bytes = m.requestSerialize({ type_url: TYPE_URL.ROUTE, response_nonce: 'abc' });
    assert.equal(decodeSimpleDeltaDiscoveryRequest(bytes.subarray(0, bytes.length - 1)), undefined);
  });
});
