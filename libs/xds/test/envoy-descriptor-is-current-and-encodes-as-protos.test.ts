/**
 * The pre-built descriptor (proto/envoy-descriptor.json) is what the .proto files give today, and a resource
 * encodes to the same bytes and decodes to the same object with it as with a root parsed from the .proto text.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type * as protobuf from 'protobufjs';
import {
  clusterLoadAssignment, clusterRoute, DESCRIPTOR_PROTO_FILES, edsCluster, encodeMessage, decodeMessage, httpConnectionManager, httpListener,
  messageNameOf, routeConfiguration, TYPE_URL, virtualHost, weightedRoute,
} from '../src/index';
import { buildDescriptor, descriptorPath, descriptorText, parseProtoFiles } from '../src/protos-descriptor';

const CONVERSION: protobuf.IConversionOptions = { longs: String, enums: String, defaults: true, oneofs: true, json: true };

describe('the Envoy descriptor', () => {
  const parsed = parseProtoFiles(DESCRIPTOR_PROTO_FILES);

  it('matches the .proto files (regenerate with libs/xds/scripts/generate-descriptor.ts)', () => {
    const expected = descriptorText(buildDescriptor(parsed, DESCRIPTOR_PROTO_FILES));
    assert.equal(readFileSync(descriptorPath(), 'utf8'), expected);
  });

  it('holds no custom options and fewer types than the parsed files', () => {
    const text = readFileSync(descriptorPath(), 'utf8');
    assert.ok(!text.includes('(validate.'), 'validation rules are stripped');
    assert.ok(!text.includes('"comment"'), 'comments are stripped');
    assert.ok(text.includes('"HttpConnectionManager"'));
  });

  it('encodes and decodes resources as the parsed .proto files do', () => {
    const hcm = httpConnectionManager({ statPrefix: 'in', routeConfigName: 'r' });
    const resources: [string, object][] = [
      [TYPE_URL.LISTENER, httpListener({ name: 'l', address: '0.0.0.0', port: 8080, hcm })],
      [TYPE_URL.ROUTE, routeConfiguration('r', [virtualHost('v', ['*'], [clusterRoute('/a', 'a'), weightedRoute({ prefix: '/' }, [{ name: 'a', weight: 75 }, { name: 'b', weight: 25 }])])])],
      [TYPE_URL.CLUSTER, edsCluster({ name: 'a', connectTimeoutMs: 250 })],
      [TYPE_URL.ENDPOINT, clusterLoadAssignment('a', [{ address: '127.0.0.1', port: 9000 }, { address: '127.0.0.2', port: 9001 }])],
    ];
    for (const [typeUrl, resource] of resources) {
      const type = parsed.lookupType(messageNameOf(typeUrl));
      const viaParsed = Buffer.from(type.encode(type.fromObject(resource)).finish());
      const viaDescriptor = encodeMessage(typeUrl, resource);
      assert.ok(viaParsed.length > 20, typeUrl);
      assert.deepEqual(viaDescriptor, viaParsed, typeUrl);
      assert.deepEqual(decodeMessage(typeUrl, viaDescriptor), type.toObject(type.decode(viaParsed), CONVERSION), typeUrl);
    }
  });
});
