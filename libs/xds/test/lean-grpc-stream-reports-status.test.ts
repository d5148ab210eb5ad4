/**
 * The ADS client's own gRPC stream (node:http2, no grpc-js) against a real grpc-js server: a status in
 * trailers-only headers, a server that is not there, a response over the size limit, a message in both ways.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { AdsServer, GRPC_STATUS, loadXdsProtos, TYPE_URL } from '../src/index';
import { GrpcChannel, type GrpcStreamError } from '../src/client-transport';
import * as net from 'node:net';
import { quietLogger } from '../src/testing';
import { meshSnapshot } from './fixture-mesh';

const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const protos = loadXdsProtos();
const request = protos.messageCodec('envoy.service.discovery.v3.DiscoveryRequest');
const response = protos.messageCodec('envoy.service.discovery.v3.DiscoveryResponse');
const options = { maxReceiveBytes: 1 << 20, keepaliveMs: 30_000, keepaliveTimeoutMs: 10_000 };
const NODE = 'sidecar~127.0.0.1~lean.ns~ns.svc.cluster.local';

/** A port that was free a moment ago (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('lean gRPC stream', () => {
  const closers: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of closers.reverse()) await c();
  });

  it('receives a response and the status of an unknown method', async () => {
    const ads = new AdsServer({ logger: quietLogger() });
    ads.setSnapshot(NODE, meshSnapshot({ version: 'v1', clusters: { a: [1001] }, route: 'a' }));
    const bound = await ads.listen('127.0.0.1:0');
    closers.push(() => bound.close());
    const channel = new GrpcChannel(`127.0.0.1:${bound.port}`, options);
    closers.push(() => channel.close());

    const call = channel.stream(ADS, request, response);
    call.write({ node: { id: NODE }, type_url: TYPE_URL.CLUSTER, resource_names: [] });
    const [res] = (await once(call, 'data')) as [Record<string, unknown>];
    assert.equal(res.type_url, TYPE_URL.CLUSTER);
    assert.equal(res.version_info, 'v1');
    assert.equal((res.resources as { '@type': string }[])[0]?.['@type'], TYPE_URL.CLUSTER);
    call.cancel();

    const unknown = channel.stream('/envoy.service.discovery.v3.AggregatedDiscoveryService/NoSuchMethod', request, response);
    const [err] = (await once(unknown, 'error')) as [GrpcStreamError];
    assert.equal(err.code, 12);
  });

  it('fails a response larger than the limit with RESOURCE_EXHAUSTED', async () => {
    const ads = new AdsServer({ logger: quietLogger() });
    ads.setSnapshot(NODE, meshSnapshot({ version: 'v1', clusters: { a: [1001], b: [1002], c: [1003] }, route: 'a' }));
    const bound = await ads.listen('127.0.0.1:0');
    closers.push(() => bound.close());
    const channel = new GrpcChannel(`127.0.0.1:${bound.port}`, { ...options, maxReceiveBytes: 64 });
    closers.push(() => channel.close());
    const call = channel.stream(ADS, request, response);
    call.write({ node: { id: NODE }, type_url: TYPE_URL.CLUSTER, resource_names: [] });
    const [err] = (await once(call, 'error')) as [GrpcStreamError];
    assert.equal(err.code, GRPC_STATUS.RESOURCE_EXHAUSTED);
  });

  it('reports UNAVAILABLE when nothing listens', async () => {
    const channel = new GrpcChannel(`127.0.0.1:${await closedPort()}`, options);
    closers.push(() => channel.close());
    const call = channel.stream(ADS, request, response);
    call.write({ type_url: TYPE_URL.CLUSTER });
    const [err] = (await once(call, 'error')) as [GrpcStreamError];
    assert.equal(err.code, GRPC_STATUS.UNAVAILABLE);
  });
});
