/**
 * The generated descriptor (proto/envoy-descriptor.json, never committed) is what the .proto files give
 * today, is regenerated when it names other inputs, and a resource encodes to the same bytes and decodes to
 * the same object with it as with a root parsed from the .proto text.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type * as protobuf from 'protobufjs';
import {
  clusterLoadAssignment, clusterRoute, DESCRIPTOR_PROTO_FILES, edsCluster, encodeMessage, decodeMessage, httpConnectionManager, httpListener,
  messageNameOf, routeConfiguration, TYPE_URL, virtualHost, weightedRoute,
} from '../src/index';
import { buildDescriptor, descriptorPath, descriptorSource, descriptorText, ensureDescriptor, loadDescriptorRoot, parseProtoFiles } from '../src/protos-descriptor';

const CONVERSION: protobuf.IConversionOptions = { longs: String, enums: String, defaults: true, oneofs: true, json: true };

describe('the Envoy descriptor', () => {
  const parsed = parseProtoFiles(DESCRIPTOR_PROTO_FILES);

  it('matches the .proto files and names what it was generated from', () => {
    const expected = descriptorText({ generatedFrom: descriptorSource(DESCRIPTOR_PROTO_FILES), ...buildDescriptor(parsed, DESCRIPTOR_PROTO_FILES) } as protobuf.INamespace);
    assert.equal(readFileSync(descriptorPath(DESCRIPTOR_PROTO_FILES), 'utf8'), expected);
    assert.match(descriptorSource(DESCRIPTOR_PROTO_FILES), /^@grpc\/grpc-js-xds@\d+\.\d+\.\d+ files:[0-9a-f]{16}$/);
  });

  it('a descriptor missing, or generated from other inputs, is written again from the .proto files', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'xds-descriptor-'));
    try {
      const file = path.join(dir, 'd.json');
      const endpointOnly = ['envoy/config/endpoint/v3/endpoint.proto'];
      ensureDescriptor(file, endpointOnly);
      const small = loadDescriptorRoot(file);
      assert.ok(small.lookupType('envoy.config.endpoint.v3.ClusterLoadAssignment'));
      assert.throws(() => small.lookupType('envoy.config.listener.v3.Listener'), /no such type/);
      // other inputs (here: another file list) make it stale
      ensureDescriptor(file, DESCRIPTOR_PROTO_FILES);
      assert.ok(loadDescriptorRoot(file).lookupType('envoy.config.listener.v3.Listener'));
      // another grpc-js-xds version too
      writeFileSync(file, '{\n "generatedFrom": "@grpc/grpc-js-xds@0.0.0 files:0000000000000000",\n "nested": {}\n}\n');
      ensureDescriptor(file, DESCRIPTOR_PROTO_FILES);
      assert.ok(loadDescriptorRoot(file).lookupType('envoy.config.listener.v3.Listener'));
      // a current one is left as it is
      const mtime = statSync(file).mtimeMs;
      ensureDescriptor(file, DESCRIPTOR_PROTO_FILES);
      assert.equal(statSync(file).mtimeMs, mtime);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('holds no custom options and fewer types than the parsed files', () => {
    const text = readFileSync(descriptorPath(DESCRIPTOR_PROTO_FILES), 'utf8');
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
