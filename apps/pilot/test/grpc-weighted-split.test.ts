/**
 * Real grpc-js-xds clients obey pilot's routes: an 80/20 VirtualService split over subsets, a header
 * match to a subset, and a config file change obeyed after the debounce.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import type { RunningPilot } from '../src/pilot';
import { callUntil, count, meshYaml, startBackend, startTestPilot, tempConfigDir, writeConfig, xdsClient, type Backend } from './helpers';

const HOST = 'echo.test.svc.cluster.local';
const PORT = 7070;
const TARGET = `${HOST}:${PORT}`;

const destinationRule = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: test}
spec:
  host: ${HOST}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`;

function virtualService(w1: number, w2: number): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: test}
spec:
  hosts: [${HOST}]
  http:
  - match: [{headers: {x-version: {exact: v2}}}]
    route: [{destination: {host: ${HOST}, subset: v2}}]
  - route:
    - {destination: {host: ${HOST}, subset: v1}, weight: ${w1}}
    - {destination: {host: ${HOST}, subset: v2}, weight: ${w2}}
`;
}

describe('grpc-js-xds client routed by pilot', () => {
  let dir: string;
  let pilot: RunningPilot;
  let v1: Backend;
  let v2: Backend;
  let client: grpc.Client;

  before(async () => {
    v1 = await startBackend('v1');
    v2 = await startBackend('v2');
    dir = tempConfigDir();
    writeConfig(dir, 'mesh.yaml', meshYaml(HOST, PORT, [{ backend: v1, labels: { version: 'v1' } }, { backend: v2, labels: { version: 'v2' } }]));
    writeConfig(dir, 'dr.yaml', destinationRule);
    writeConfig(dir, 'vs.yaml', virtualService(80, 20));
    pilot = await startTestPilot(dir);
    client = xdsClient(pilot.xdsPort, TARGET);
  });

  after(async () => {
    client?.close();
    await pilot?.stop();
    await v1?.stop();
    await v2?.stop();
  });

  it('splits 1000 calls 80/20 between subsets within ±5 points', async () => {
    const first = await callUntil(client, (r) => r.code === 0);
    assert.equal(first.code, 0, 'the client never got a working route');
    const counts = await count(client, 1000);
    const n1 = counts.get('v1') ?? 0;
    const n2 = counts.get('v2') ?? 0;
    assert.equal(n1 + n2, 1000, `every call succeeds: ${JSON.stringify([...counts])}`);
    assert.ok(Math.abs(n1 / 10 - 80) <= 5, `v1 got ${n1 / 10}% (want 80 ±5)`);
  });

  it('routes a header match to its subset', async () => {
    const counts = await count(client, 50, { 'x-version': 'v2' });
    assert.equal(counts.get('v2'), 50, JSON.stringify([...counts]));
  });

  it('obeys a changed config file within 1 s after the debounce', async () => {
    writeConfig(dir, 'vs.yaml', virtualService(0, 100));
    const changedAt = Date.now();
    // Bounded: 1 s after the 100 ms debounce (plus the watcher's read), every call goes to v2.
    let seenAllV2At = 0;
    for (let i = 0; i < 100 && Date.now() - changedAt < 3000; i++) {
      const counts = await count(client, 20);
      if (counts.get('v2') === 20) {
        seenAllV2At = Date.now();
        break;
      }
    }
    assert.ok(seenAllV2At > 0, 'the client never moved to v2');
    assert.ok(seenAllV2At - changedAt <= 1100 + 100, `took ${seenAllV2At - changedAt} ms`);
  });
});
