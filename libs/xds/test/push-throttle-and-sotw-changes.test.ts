/**
 * Two push-side promises of the server:
 * - the push throttle (Istio's PILOT_PUSH_THROTTLE): with a limit of 2, six SotW streams of six nodes all
 *   receive a new snapshot, never more than two pushes in flight at once, and streams that waited get the
 *   latest snapshot, not the intermediate one;
 * - SotW EDS after a push: only assignments that changed travel, and what the client holds (applying each
 *   response as Envoy does: an omitted EDS resource is kept) equals the snapshot at every step, including
 *   a rebuilt cluster whose unchanged endpoints are resent and a resource removed and re-added unchanged.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TYPE_URL, type Snapshot } from '../src/index';
import { openRawAdsStream, startTestAdsServer, type RawAdsStream, type TestAdsServer } from '../src/testing';
import { meshSnapshot } from './fixture-mesh';

interface SotwRes {
  version_info: string;
  type_url: string;
  nonce: string;
  resources: { cluster_name?: string; name?: string; endpoints?: { lb_endpoints?: { endpoint?: { address?: { socket_address?: { port_value?: number } } } }[] }[] }[];
}
type Req = Record<string, unknown>;
type Stream = RawAdsStream<Req, SotwRes>;

/** Reads responses (ACKing each) until one of `typeUrl` with `version` arrives; bounded by count and time. */
async function until(s: Stream, typeUrl: string, version: string, ms = 5000): Promise<SotwRes> {
  const end = Date.now() + ms;
  for (let i = 0; i < 20 && Date.now() < end; i++) {
    const r = await s.next(Math.max(1, end - Date.now()));
    s.send({ type_url: r.type_url, version_info: r.version_info, response_nonce: r.nonce });
    if (r.type_url === typeUrl && r.version_info === version) return r;
  }
  throw new Error(`no ${typeUrl} ${version} within bounds`);
}

describe('push throttle', () => {
  let server: TestAdsServer;
  const streams: Stream[] = [];
  before(async () => {
    server = await startTestAdsServer({ options: { pushThrottle: 2 } });
  });
  after(async () => {
    for (const s of streams) s.close();
    await server.stop();
  });

  it('keeps at most the limit in flight and gives waiting streams the latest snapshot', async () => {
    const ids = Array.from({ length: 6 }, (_, i) => `throttled-${i}`);
    const v1 = meshSnapshot({ version: 'v1', clusters: { a: [1001] }, route: 'a' });
    for (const id of ids) server.ads.setSnapshot(id, v1);
    for (const id of ids) {
      const s = openRawAdsStream<Req, SotwRes>(server.address);
      streams.push(s);
      s.send({ node: { id }, type_url: TYPE_URL.CLUSTER });
      await until(s, TYPE_URL.CLUSTER, 'v1');
    }
    const v2 = meshSnapshot({ version: 'v2', clusters: { a: [1001], b: [1002] }, route: 'a' });
    const v3 = meshSnapshot({ version: 'v3', clusters: { a: [1001], b: [1003], c: [1004] }, route: 'a' });
    for (const id of ids) server.ads.setSnapshot(id, v2);
    const queued = server.ads.pushQueue().queued;
    for (const id of ids) server.ads.setSnapshot(id, v3);
    assert.equal(queued, 4, 'two streams push at once, four wait');
    const got = await Promise.all(
      streams.map(async (s, i) => {
        const versions: string[] = [];
        const end = Date.now() + 5000;
        for (let n = 0; n < 10 && Date.now() < end && versions.at(-1) !== 'v3'; n++) {
          const r = await s.next(Math.max(1, end - Date.now()));
          s.send({ type_url: r.type_url, version_info: r.version_info, response_nonce: r.nonce });
          versions.push(r.version_info);
        }
        return { i, versions };
      }),
    );
    for (const { i, versions } of got) {
      assert.equal(versions.at(-1), 'v3', `stream ${i} ends on the latest snapshot: ${versions.join(',')}`);
      if (i >= 2) assert.deepEqual(versions, ['v3'], `stream ${i} waited its turn and skipped v2`);
    }
    assert.equal(server.ads.pushQueue().peakInFlight, 2);
    assert.equal(server.ads.pushQueue().queued, 0);
  });
});

describe('SotW EDS push across snapshots', () => {
  let server: TestAdsServer;
  let stream: Stream | undefined;
  before(async () => {
    server = await startTestAdsServer();
  });
  after(async () => {
    stream?.close();
    await server.stop();
  });

  it('sends only changed assignments and leaves the client holding the snapshot', async () => {
    const id = 'sotw-steps';
    const names = ['a', 'b', 'c'];
    const held = new Map<string, number[]>();
    const portsOf = (r: SotwRes['resources'][number]): number[] =>
      (r.endpoints ?? []).flatMap((l) => (l.lb_endpoints ?? []).map((e) => e.endpoint?.address?.socket_address?.port_value ?? 0));
    const s = openRawAdsStream<Req, SotwRes>(server.address);
    stream = s;
    const wantEds = (snap: Snapshot): Map<string, number[]> =>
      new Map([...snap.resources(TYPE_URL.ENDPOINT)].map(([n, r]) => [n, portsOf(r.resource as SotwRes['resources'][number])]));
    /** Sets the snapshot, applies the responses it causes (CDS then EDS when clusters change); returns the EDS names carried. */
    const push = async (snap: Snapshot, expectCds: boolean): Promise<string[]> => {
      server.ads.setSnapshot(id, snap);
      if (expectCds) await until(s, TYPE_URL.CLUSTER, snap.version(TYPE_URL.CLUSTER));
      const r = await until(s, TYPE_URL.ENDPOINT, snap.version(TYPE_URL.ENDPOINT));
      for (const x of r.resources) held.set(x.cluster_name ?? '', portsOf(x));
      return r.resources.map((x) => x.cluster_name ?? '').sort();
    };
    const v1 = meshSnapshot({ version: 'v1', clusters: { a: [1001], b: [1002], c: [1003] }, route: 'a' });
    server.ads.setSnapshot(id, v1);
    s.send({ node: { id }, type_url: TYPE_URL.CLUSTER });
    await until(s, TYPE_URL.CLUSTER, 'v1');
    s.send({ type_url: TYPE_URL.ENDPOINT, resource_names: names });
    const first = await until(s, TYPE_URL.ENDPOINT, 'v1');
    for (const x of first.resources) held.set(x.cluster_name ?? '', portsOf(x));
    assert.deepEqual(held, wantEds(v1));

    const v2 = meshSnapshot({ version: 'v2', clusters: { a: [1011], b: [1002], c: [1003] }, route: 'a' });
    assert.deepEqual(await push(v2, false), ['a'], 'v2: only the changed assignment');
    assert.deepEqual(held, wantEds(v2));

    const v3 = meshSnapshot({ version: 'v3', clusters: { a: [1011], b: [1012], c: [1013] }, route: 'a' });
    assert.deepEqual(await push(v3, false), ['b', 'c'], 'v3: the two changed assignments');
    assert.deepEqual(held, wantEds(v3));

    // b's cluster is rebuilt (other connect timeout): Envoy warms it again and needs its endpoints resent.
    const v4 = meshSnapshot({ version: 'v4', clusters: { a: [1021], b: [1012], c: [1013] }, route: 'a', connectTimeoutMs: { b: 7000 } });
    assert.deepEqual(await push(v4, true), ['a', 'b'], 'v4: a changed, b resent for its rebuilt cluster');
    assert.deepEqual(held, wantEds(v4));

    // c disappears (the client keeps its last assignment), then comes back unchanged: nothing to send for it.
    const v5 = meshSnapshot({ version: 'v5', clusters: { a: [1031], b: [1012] }, route: 'a', connectTimeoutMs: { b: 7000 } });
    assert.deepEqual(await push(v5, true), ['a']);
    const v6 = meshSnapshot({ version: 'v6', clusters: { a: [1041], b: [1012], c: [1013] }, route: 'a', connectTimeoutMs: { b: 7000 } });
    assert.deepEqual(await push(v6, true), ['a'], 'v6: c is back as the client holds it');
    assert.deepEqual(held, wantEds(v6));
  });
});

describe('Delta subscription growing after the stream synced', () => {
  let server: TestAdsServer;
  let stream: RawAdsStream<Req, { type_url: string; nonce: string; system_version_info: string; resources: { name: string }[] }> | undefined;
  before(async () => {
    server = await startTestAdsServer();
  });
  after(async () => {
    stream?.close();
    await server.stop();
  });

  it('sends an endpoint subscribed later, which the snapshot already had', async () => {
    const id = 'delta-grow';
    const s = openRawAdsStream<Req, { type_url: string; nonce: string; system_version_info: string; resources: { name: string }[] }>(server.address, 'DeltaAggregatedResources');
    stream = s;
    server.ads.setSnapshot(id, meshSnapshot({ version: 'v1', clusters: { a: [1001], b: [1002] }, route: 'a' }));
    s.send({ node: { id }, type_url: TYPE_URL.ENDPOINT, resource_names_subscribe: ['a'] });
    const first = await s.next();
    s.send({ type_url: first.type_url, response_nonce: first.nonce });
    assert.deepEqual(first.resources.map((r) => r.name), ['a']);
    // The stream now mirrors v1 for its subscription {a}; b joins it.
    server.ads.setSnapshot(id, meshSnapshot({ version: 'v2', clusters: { a: [1011], b: [1002] }, route: 'a' }));
    const second = await s.next();
    s.send({ type_url: second.type_url, response_nonce: second.nonce });
    assert.deepEqual(second.resources.map((r) => r.name), ['a']);
    s.send({ type_url: TYPE_URL.ENDPOINT, resource_names_subscribe: ['b'] });
    const third = await s.next();
    assert.deepEqual(third.resources.map((r) => r.name), ['b'], 'b is sent: the client never held it');
  });
});
