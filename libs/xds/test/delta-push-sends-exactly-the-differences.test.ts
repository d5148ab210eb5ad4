/**
 * A Delta stream moved through a series of snapshots is told exactly what differs each time: what the
 * client holds afterwards (applying every response as Envoy would) equals the snapshot, for every step —
 * a resource changed and changed back, removed and re-added, a cluster rebuilt (its unchanged endpoints
 * resent), a snapshot set twice (nothing sent). The server looks only at the names that differ between
 * the snapshot a stream mirrors and the new one; this test holds that shortcut to the full answer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TYPE_URL, type SendEvent, type Snapshot } from '../src/index';
import { openRawAdsStream, startTestAdsServer, type RawAdsStream, type TestAdsServer } from '../src/testing';
import { meshSnapshot } from './fixture-mesh';

interface DeltaRes {
  system_version_info: string;
  type_url: string;
  nonce: string;
  removed_resources: string[];
  resources: { name: string; version: string }[];
}
type Req = Record<string, unknown>;

describe('Delta push across snapshots', () => {
  let server: TestAdsServer;
  const sent: SendEvent[] = [];
  let stream: RawAdsStream<Req, DeltaRes> | undefined;
  before(async () => {
    server = await startTestAdsServer({ options: { onSend: (e) => sent.push(e) } });
  });
  after(async () => {
    stream?.close();
    await server.stop();
  });

  it('leaves the client holding exactly each snapshot, sending only what differs', async () => {
    const id = 'delta-steps';
    const edsNames = ['a', 'b', 'c'];
    const held = new Map<string, Map<string, string>>([
      [TYPE_URL.CLUSTER, new Map()],
      [TYPE_URL.ENDPOINT, new Map()],
    ]);
    const s = openRawAdsStream<Req, DeltaRes>(server.address, 'DeltaAggregatedResources');
    stream = s;
    /** Reads `count` responses, applies and ACKs them; returns the names each type carried. */
    const apply = async (count: number): Promise<Record<string, string[]>> => {
      const carried: Record<string, string[]> = {};
      for (let i = 0; i < count; i++) {
        const r = await s.next();
        const m = held.get(r.type_url) as Map<string, string>;
        for (const x of r.resources) m.set(x.name, x.version);
        for (const n of r.removed_resources) m.delete(n);
        (carried[r.type_url] ??= []).push(...r.resources.map((x) => x.name), ...r.removed_resources.map((n) => `-${n}`));
        s.send({ type_url: r.type_url, response_nonce: r.nonce });
      }
      return carried;
    };
    const expectHolds = (snap: Snapshot, step: string): void => {
      const want = (t: string, only?: string[]): Map<string, string> =>
        new Map([...snap.resources(t)].filter(([n]) => !only || only.includes(n)).map(([n, r]) => [n, r.version]));
      assert.deepEqual(held.get(TYPE_URL.CLUSTER), want(TYPE_URL.CLUSTER), `${step}: clusters held`);
      assert.deepEqual(held.get(TYPE_URL.ENDPOINT), want(TYPE_URL.ENDPOINT, edsNames), `${step}: endpoints held`);
    };
    /** Sets the snapshot; the responses it causes are the sends the server reported during the call. */
    const push = async (snap: Snapshot): Promise<Record<string, string[]>> => {
      const before = sent.length;
      server.ads.setSnapshot(id, snap);
      return apply(sent.filter((e, i) => i >= before && e.nodeId === id).length);
    };

    const v1 = meshSnapshot({ version: 'v1', clusters: { a: [1001], b: [1002] }, route: 'a' });
    server.ads.setSnapshot(id, v1);
    s.send({ node: { id }, type_url: TYPE_URL.CLUSTER, resource_names_subscribe: [] });
    await apply(1);
    s.send({ type_url: TYPE_URL.ENDPOINT, resource_names_subscribe: edsNames });
    await apply(1);
    expectHolds(v1, 'v1');

    const v2 = meshSnapshot({ version: 'v2', clusters: { a: [1011], b: [1002] }, route: 'a' });
    assert.deepEqual(await push(v2), { [TYPE_URL.ENDPOINT]: ['a'] }, 'v2: only the changed assignment');
    expectHolds(v2, 'v2');

    const v3 = meshSnapshot({ version: 'v3', clusters: { a: [1001], b: [1002] }, route: 'a' });
    assert.deepEqual(await push(v3), { [TYPE_URL.ENDPOINT]: ['a'] }, 'v3: a changed back is sent again');
    expectHolds(v3, 'v3');

    assert.deepEqual(await push(v3), {}, 'the same snapshot again sends nothing');

    const v4 = meshSnapshot({ version: 'v4', clusters: { a: [1001] }, route: 'a' });
    assert.deepEqual(await push(v4), { [TYPE_URL.ENDPOINT]: ['-b'], [TYPE_URL.CLUSTER]: ['-b'] }, 'v4: b removed (clusters last)');
    expectHolds(v4, 'v4');

    const v5 = meshSnapshot({ version: 'v5', clusters: { a: [1001], b: [1002] }, route: 'a' });
    assert.deepEqual(await push(v5), { [TYPE_URL.CLUSTER]: ['b'], [TYPE_URL.ENDPOINT]: ['b'] }, 'v5: b back');
    expectHolds(v5, 'v5');

    const v6 = meshSnapshot({ version: 'v6', clusters: { a: [1001], b: [1002] }, route: 'a', connectTimeoutMs: { a: 777 } });
    assert.deepEqual(await push(v6), { [TYPE_URL.CLUSTER]: ['a'], [TYPE_URL.ENDPOINT]: ['a'] }, 'v6: rebuilt cluster a gets its endpoints again');
    expectHolds(v6, 'v6');

    const v7 = meshSnapshot({ version: 'v7', clusters: { a: [1001], c: [1003] }, route: 'a', connectTimeoutMs: { a: 777 } });
    assert.deepEqual(await push(v7), { [TYPE_URL.CLUSTER]: ['c', '-b'], [TYPE_URL.ENDPOINT]: ['c', '-b'] }, 'v7: c added, b removed');
    expectHolds(v7, 'v7');

    // d exists but is not subscribed: only its cluster travels. Subscribing to it then brings its endpoints,
    // and a later change of d reaches the client.
    const v8 = meshSnapshot({ version: 'v8', clusters: { a: [1001], c: [1003], d: [1004] }, route: 'a', connectTimeoutMs: { a: 777 } });
    assert.deepEqual(await push(v8), { [TYPE_URL.CLUSTER]: ['d'] }, 'v8: d is not subscribed for EDS');
    edsNames.push('d');
    s.send({ type_url: TYPE_URL.ENDPOINT, resource_names_subscribe: ['d'] });
    assert.deepEqual(await apply(1), { [TYPE_URL.ENDPOINT]: ['d'] }, 'subscribing to d sends it alone');
    expectHolds(v8, 'v8 + d');
    const v9 = meshSnapshot({ version: 'v9', clusters: { a: [1001], c: [1003], d: [1014] }, route: 'a', connectTimeoutMs: { a: 777 } });
    assert.deepEqual(await push(v9), { [TYPE_URL.ENDPOINT]: ['d'] }, 'v9: the changed d');
    expectHolds(v9, 'v9');
    assert.equal(s.pending(), 0);
  });
});
