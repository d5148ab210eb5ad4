/**
 * A real grpc-js-xds client obeys fault abort by percentage, retries on UNAVAILABLE and a route timeout
 * as translated by pilot. One service, three subsets (ok, flaky, slow), routes chosen by header.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { RunningPilot } from '../src/pilot';
import { call, callUntil, count, meshYaml, startBackend, startTestPilot, tempConfigDir, writeConfig, xdsClient, type Backend } from './helpers';

const HOST = 'echo.test.svc.cluster.local';
const TARGET = `${HOST}:7070`;

const rules = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: test}
spec:
  host: ${HOST}
  subsets:
  - {name: ok, labels: {role: ok}}
  - {name: flaky, labels: {role: flaky}}
  - {name: slow, labels: {role: slow}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: test}
spec:
  hosts: [${HOST}]
  http:
  - match: [{headers: {x-test: {exact: fault}}}]
    fault: {abort: {grpcStatus: PERMISSION_DENIED, percentage: {value: 50}}}
    route: [{destination: {host: ${HOST}, subset: ok}}]
  - match: [{headers: {x-test: {exact: retry}}}]
    retries: {attempts: 3, retryOn: unavailable}
    route: [{destination: {host: ${HOST}, subset: flaky}}]
  - match: [{headers: {x-test: {exact: noretry}}}]
    retries: {attempts: 0}
    route: [{destination: {host: ${HOST}, subset: flaky}}]
  - match: [{headers: {x-test: {exact: timeout}}}]
    timeout: 200ms
    route: [{destination: {host: ${HOST}, subset: slow}}]
  - match: [{headers: {x-test: {exact: notimeout}}}]
    route: [{destination: {host: ${HOST}, subset: slow}}]
  - route: [{destination: {host: ${HOST}, subset: ok}}]
`;

describe('grpc-js-xds client: fault, retries, timeout from pilot', () => {
  let pilot: RunningPilot;
  let ok: Backend;
  let flaky: Backend;
  let slow: Backend;
  let client: grpc.Client;

  before(async () => {
    ok = await startBackend('ok');
    flaky = await startBackend('flaky');
    slow = await startBackend('slow');
    slow.delayMs = 2000;
    const dir = tempConfigDir();
    writeConfig(dir, 'mesh.yaml', meshYaml(HOST, 7070, [
      { backend: ok, labels: { role: 'ok' } },
      { backend: flaky, labels: { role: 'flaky' } },
      { backend: slow, labels: { role: 'slow' } },
    ]));
    writeConfig(dir, 'rules.yaml', rules);
    pilot = await startTestPilot(dir);
    client = xdsClient(pilot.xdsPort, TARGET);
    const first = await callUntil(client, (r) => r.code === 0);
    assert.equal(first.backend, 'ok');
  });

  after(async () => {
    client?.close();
    await pilot?.stop();
    await Promise.all([ok, flaky, slow].map((b) => b?.stop()));
  });

  it('aborts about half of the calls with the configured status', async () => {
    const counts = await count(client, 400, { 'x-test': 'fault' });
    const aborted = counts.get(`code:${grpc.status.PERMISSION_DENIED}`) ?? 0;
    const passed = counts.get('ok') ?? 0;
    assert.equal(aborted + passed, 400, JSON.stringify([...counts]));
    assert.ok(aborted >= 140 && aborted <= 260, `aborted ${aborted}/400, want 50% ±15 points`);
  });

  it('retries UNAVAILABLE up to the configured attempts', async () => {
    flaky.failNext = 2;
    flaky.calls = 0;
    const r = await call(client, { 'x-test': 'retry' });
    assert.equal(r.code, 0, `code ${r.code}`);
    assert.equal(flaky.calls, 3, 'two failures then a success');
    flaky.failNext = 1;
    flaky.calls = 0;
    const r2 = await call(client, { 'x-test': 'noretry' });
    assert.equal(r2.code, grpc.status.UNAVAILABLE, 'attempts: 0 disables retries');
    assert.equal(flaky.calls, 1);
  });

  it('ends a call at the route timeout', async () => {
    const start = Date.now();
    const r = await call(client, { 'x-test': 'timeout' }, 5000);
    const took = Date.now() - start;
    assert.equal(r.code, grpc.status.DEADLINE_EXCEEDED);
    assert.ok(took < 1900, `ended after ${took} ms, before the backend's 2 s reply`);
    const r2 = await call(client, { 'x-test': 'notimeout' }, 5000);
    assert.equal(r2.code, 0, 'without a route timeout the slow reply arrives');
  });
});
