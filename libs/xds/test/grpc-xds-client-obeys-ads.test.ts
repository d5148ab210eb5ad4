/**
 * A real @grpc/grpc-js-xds client (xds:///echo.test:8080) resolves through the AdsServer: api_listener ->
 * RDS -> EDS cluster -> real grpc-js servers. Asserted: RPCs reach the backend the config names, an update
 * moves them, a resource grpc-js-xds rejects is NACKed (seen by the hooks) while RPCs keep flowing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { Snapshot, staticCluster, clusterLoadAssignment, TYPE_URL, type NackEvent, type XdsNode } from '../src/index';
import { grpcXdsBootstrap, startTestAdsServer, waitFor, type TestAdsServer } from '../src/testing';
import { meshSnapshot } from './fixture-mesh';

const TARGET = 'echo.test:8080';
const identity = (b: Buffer): Buffer => b;
const ECHO: grpc.ServiceDefinition = {
  Echo: {
    path: '/mesh.test.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

async function startEcho(name: string): Promise<{ port: number; server: grpc.Server }> {
  const server = new grpc.Server();
  server.addService(ECHO, {
    Echo: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from(name)),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { port, server };
}

describe('grpc-js-xds client over ADS', () => {
  const nodeId = 'grpc-client-1';
  const nacks: NackEvent[] = [];
  const nodes: XdsNode[] = [];
  let ads: TestAdsServer;
  let backends: { port: number; server: grpc.Server }[] = [];
  let client: grpc.Client;

  const call = (deadlineMs = 5000): Promise<string> =>
    new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        '/mesh.test.Echo/Echo',
        identity,
        identity,
        Buffer.from('hi'),
        { deadline: Date.now() + deadlineMs },
        (err: grpc.ServiceError | null, value?: Buffer) => (err ? reject(err) : resolve(String(value))),
      );
    });
  const snapshotV = (version: string, route: string): Snapshot =>
    meshSnapshot({ version, clusters: { a: [backends[0].port], b: [backends[1].port] }, route, apiListenerName: TARGET });

  before(async () => {
    grpcXds.register();
    backends = [await startEcho('A'), await startEcho('B')];
    ads = await startTestAdsServer({
      options: {
        onNack: (e) => nacks.push(e),
        onConnect: (node) => {
          nodes.push(node);
          return undefined;
        },
      },
    });
    ads.ads.setSnapshot(nodeId, snapshotV('v1', 'a'));
    const bootstrap = grpcXdsBootstrap({ serverUri: ads.address, nodeId, metadata: { GENERATOR: 'grpc', NAMESPACE: 'test' } });
    client = new grpc.Client(`xds:///${TARGET}`, grpc.credentials.createInsecure(), {
      'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config': JSON.stringify(bootstrap),
    });
  });

  after(async () => {
    client?.close();
    await ads?.stop();
    for (const b of backends) b.server.forceShutdown();
  });

  it('sends RPCs to the cluster the route names, with the node identity the server decoded', async () => {
    const first = await waitFor('a first RPC through xDS', async () => call(), { timeoutMs: 20_000, intervalMs: 100 });
    assert.equal(first, 'A');
    for (let i = 0; i < 10; i++) assert.equal(await call(), 'A');
    const node = nodes.find((n) => n.id === nodeId);
    assert.ok(node);
    assert.equal(node.metadata.GENERATOR, 'grpc');
    assert.match(node.user_agent_name, /grpc/i);
    const st = ads.ads.status().find((c) => c.node.id === nodeId);
    assert.deepEqual(st?.types.find((t) => t.typeUrl === TYPE_URL.LISTENER)?.subscribed, [TARGET]);
    assert.equal(st?.types.find((t) => t.typeUrl === TYPE_URL.ROUTE)?.ackedVersion, 'v1');
  });

  it('follows an update of the route', async () => {
    ads.ads.setSnapshot(nodeId, snapshotV('v2', 'b'));
    await waitFor('RPCs moved to B', async () => (await call()) === 'B', { timeoutMs: 10_000 });
    for (let i = 0; i < 10; i++) assert.equal(await call(), 'B');
  });

  it('NACKs a cluster it does not support and keeps serving on the last good config', async () => {
    const good = snapshotV('v3', 'b');
    const resourcesOf = (typeUrl: string): object[] => [...good.resources(typeUrl).values()].map((r) => r.resource);
    // The cluster in use, 'b', turned STATIC: grpc-js-xds supports EDS, LOGICAL_DNS and AGGREGATE only.
    const clusters = resourcesOf(TYPE_URL.CLUSTER).filter((c) => (c as { name?: string }).name !== 'b');
    clusters.push(staticCluster('b', clusterLoadAssignment('b', [{ address: '127.0.0.1', port: backends[0].port }])));
    const bad = new Snapshot({
      [TYPE_URL.LISTENER]: { version: 'v2', resources: resourcesOf(TYPE_URL.LISTENER) },
      [TYPE_URL.ROUTE]: { version: 'v2', resources: resourcesOf(TYPE_URL.ROUTE) },
      [TYPE_URL.CLUSTER]: { version: 'v3-bad', resources: clusters },
      [TYPE_URL.ENDPOINT]: { version: 'v2', resources: resourcesOf(TYPE_URL.ENDPOINT) },
    });
    ads.ads.setSnapshot(nodeId, bad);
    const nack = await waitFor('a NACK from grpc-js-xds', () => nacks.find((n) => n.nodeId === nodeId), { timeoutMs: 10_000 });
    assert.equal(nack.typeUrl, TYPE_URL.CLUSTER);
    assert.equal(nack.rejectedVersion, 'v3-bad');
    assert.match(nack.message, /STATIC/, 'error_detail names the problem');
    const cds = ads.ads.status().find((c) => c.node.id === nodeId)?.types.find((t) => t.typeUrl === TYPE_URL.CLUSTER);
    assert.equal(cds?.lastNack?.version, 'v3-bad');
    // Still B (the STATIC cluster would have pointed at A).
    for (let i = 0; i < 10; i++) assert.equal(await call(), 'B');
  });
});
