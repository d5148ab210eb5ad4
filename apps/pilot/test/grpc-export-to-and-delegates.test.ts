/**
 * Proxyless gRPC (real grpc-js-xds clients) under exportTo and delegation: the VirtualService in `test`
 * is exported to "." only, so a client in `test` follows it (everything to v2, except what its delegate
 * VirtualService sends to v1 by header) while a client in `other` gets the service's default route
 * (round robin over both backends).
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import type { RunningPilot } from '../src/pilot';
import { callUntil, count, meshYaml, startBackend, startTestPilot, tempConfigDir, writeConfig, xdsClient, type Backend } from './helpers';

const HOST = 'echo.test.svc.cluster.local';
const PORT = 7071;
const TARGET = `${HOST}:${PORT}`;

const ROUTING = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: test}
spec:
  host: ${HOST}
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: test}
spec:
  hosts: [${HOST}]
  exportTo: ["."]
  http:
  - match: [{headers: {x-team: {prefix: a}}}]
    delegate: {name: team-a}
  - route: [{destination: {host: ${HOST}, subset: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: team-a, namespace: test}
spec:
  http:
  - match: [{headers: {x-team: {exact: alpha}}}]
    route: [{destination: {host: ${HOST}, subset: v1}}]
`;

describe('grpc-js-xds clients see only what is exported to their namespace, delegates included', () => {
  let pilot: RunningPilot;
  let v1: Backend;
  let v2: Backend;
  let inTest: grpc.Client;
  let inOther: grpc.Client;

  before(async () => {
    v1 = await startBackend('v1');
    v2 = await startBackend('v2');
    const dir = tempConfigDir();
    writeConfig(dir, 'mesh.yaml', meshYaml(HOST, PORT, [{ backend: v1, labels: { version: 'v1' } }, { backend: v2, labels: { version: 'v2' } }]));
    writeConfig(dir, 'routing.yaml', ROUTING);
    pilot = await startTestPilot(dir);
    inTest = xdsClient(pilot.xdsPort, TARGET, 'test');
    inOther = xdsClient(pilot.xdsPort, TARGET, 'other');
  });

  after(async () => {
    inTest?.close();
    inOther?.close();
    await pilot?.stop();
    await v1?.stop();
    await v2?.stop();
  });

  it('a client in the VirtualService namespace follows it and its delegate', async () => {
    assert.equal((await callUntil(inTest, (r) => r.code === 0)).code, 0);
    assert.deepEqual([...(await count(inTest, 20)).entries()], [['v2', 20]]);
    assert.deepEqual([...(await count(inTest, 20, { 'x-team': 'alpha' })).entries()], [['v1', 20]]);
    // Inside the root's match (prefix a) but in no delegate match: the merged routes do not cover it.
    assert.deepEqual([...(await count(inTest, 10, { 'x-team': 'another' })).entries()], [['v2', 10]]);
  });

  it('a client in another namespace gets the default route over both backends', async () => {
    assert.equal((await callUntil(inOther, (r) => r.code === 0)).code, 0);
    const seen = await count(inOther, 40, { 'x-team': 'alpha' });
    assert.ok((seen.get('v1') ?? 0) > 0 && (seen.get('v2') ?? 0) > 0, JSON.stringify([...seen]));
    assert.equal((seen.get('v1') ?? 0) + (seen.get('v2') ?? 0), 40);
  });
});
