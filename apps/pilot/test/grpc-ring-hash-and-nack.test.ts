/**
 * Ring hash keeps one header value on one backend; a resource the client rejects shows up as a NACK on
 * /debug/syncz while traffic keeps flowing on the last good config.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import type { RunningPilot } from '../src/pilot';
import { callUntil, count, meshYaml, startBackend, startTestPilot, tempConfigDir, writeConfig, xdsClient, type Backend } from './helpers';

const HOST = 'echo.test.svc.cluster.local';

function rule(ringSize: number): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: test}
spec:
  host: ${HOST}
  trafficPolicy:
    loadBalancer:
      consistentHash: {httpHeaderName: x-user, minimumRingSize: ${ringSize}}
`;
}

interface SynczEntry {
  proxy: string;
  types: Record<string, { sentVersion: string; ackedVersion: string; lastNack: { message: string } | null }>;
}

describe('grpc-js-xds client: ring hash and NACK', () => {
  let pilot: RunningPilot;
  let dir: string;
  let backends: Backend[];
  let client: grpc.Client;

  before(async () => {
    backends = await Promise.all(['a', 'b', 'c'].map((n) => startBackend(n)));
    dir = tempConfigDir();
    writeConfig(dir, 'mesh.yaml', meshYaml(HOST, 7070, backends.map((b) => ({ backend: b, labels: {} }))));
    writeConfig(dir, 'dr.yaml', rule(1024));
    pilot = await startTestPilot(dir);
    client = xdsClient(pilot.xdsPort, `${HOST}:7070`);
    assert.equal((await callUntil(client, (r) => r.code === 0)).code, 0);
  });

  after(async () => {
    client?.close();
    await pilot?.stop();
    await Promise.all(backends.map((b) => b.stop()));
  });

  it('sends every call with one x-user value to one backend', async () => {
    const chosen = new Set<string>();
    for (let u = 0; u < 10; u++) {
      const counts = await count(client, 20, { 'x-user': `user-${u}` });
      assert.equal(counts.size, 1, `user-${u} spread over ${JSON.stringify([...counts])}`);
      chosen.add([...counts.keys()][0] ?? '');
    }
    assert.ok(chosen.size >= 2, `10 users all hashed to ${[...chosen].join()}: hashing is not by header`);
  });

  it('shows a rejected cluster as a NACK in /debug/syncz and keeps serving', async () => {
    writeConfig(dir, 'dr.yaml', rule(10_000_000));
    let nack: string | undefined;
    let acked = '';
    let sent = '';
    for (let i = 0; i < 50 && !nack; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const res = await fetch(`http://127.0.0.1:${pilot.debugPort}/debug/syncz`);
      const body = (await res.json()) as SynczEntry[];
      const cds = body[0]?.types.cds;
      nack = cds?.lastNack?.message;
      acked = cds?.ackedVersion ?? '';
      sent = cds?.sentVersion ?? '';
    }
    assert.match(nack ?? '', /minimum_ring_size/);
    assert.notEqual(acked, sent, 'the rejected version is not acknowledged');
    const counts = await count(client, 50, { 'x-user': 'user-1' });
    assert.equal([...counts.values()].reduce((a, b) => a + b, 0), 50);
    assert.equal(counts.size, 1, `traffic still flows on the last good config: ${JSON.stringify([...counts])}`);
    assert.ok(![...counts.keys()].some((k) => k.startsWith('code:')));
  });
});
