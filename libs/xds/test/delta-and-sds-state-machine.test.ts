/**
 * Delta ADS and SDS through real grpc-js streams: per-resource versions, only changed resources sent,
 * removed_resources, initial_resource_versions on reconnect, unsubscribe, NACK not resent; StreamSecrets
 * serves Secrets and refuses other types.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Snapshot, TYPE_URL, tlsCertificateSecret, validationContextSecret, type NackEvent } from '../src/index';
import { openRawAdsStream, startTestAdsServer, type RawAdsStream, type TestAdsServer } from '../src/testing';
import { meshSnapshot } from './fixture-mesh';

interface DeltaRes {
  system_version_info: string;
  type_url: string;
  nonce: string;
  removed_resources: string[];
  resources: { name: string; version: string; resource: { '@type': string } }[];
}
interface SotwRes {
  version_info: string;
  type_url: string;
  nonce: string;
  resources: { '@type': string; name: string; tls_certificate?: { certificate_chain?: { inline_bytes?: string } } }[];
}
type Req = Record<string, unknown>;

const names = (r: DeltaRes): string[] => r.resources.map((x) => x.name).sort();

describe('Delta ADS state machine', () => {
  let server: TestAdsServer;
  const nacks: NackEvent[] = [];
  const streams: { close(): void }[] = [];
  before(async () => {
    server = await startTestAdsServer({ options: { onNack: (e) => nacks.push(e) } });
  });
  after(async () => {
    for (const s of streams) s.close();
    await server.stop();
  });
  const open = (): RawAdsStream<Req, DeltaRes> => {
    const s = openRawAdsStream<Req, DeltaRes>(server.address, 'DeltaAggregatedResources');
    streams.push(s);
    return s;
  };

  it('sends per-resource versions, then only what changed, and removals', async () => {
    const id = 'delta-1';
    server.ads.setSnapshot(id, meshSnapshot({ version: 'v1', clusters: { a: [1001], b: [1002] }, route: 'a' }));
    const s = open();
    s.send({ node: { id }, type_url: TYPE_URL.CLUSTER, resource_names_subscribe: [] });
    const r1 = await s.next();
    assert.equal(r1.system_version_info, 'v1');
    assert.deepEqual(names(r1), ['a', 'b']);
    assert.ok(r1.resources.every((r) => r.version.length > 0 && r.resource['@type'] === TYPE_URL.CLUSTER));
    s.send({ type_url: TYPE_URL.CLUSTER, response_nonce: r1.nonce });
    // v2: a unchanged, b changed (http2), c added. Only b and c travel.
    const resourcesOf = (snap: Snapshot, typeUrl: string, only?: string[]): object[] =>
      [...snap.resources(typeUrl).values()].filter((r) => !only || only.includes(r.name)).map((r) => r.resource);
    const v1 = meshSnapshot({ version: 'v1', clusters: { a: [1001] }, route: 'a' });
    const changed = meshSnapshot({ version: 'v2', clusters: { b: [1002], c: [1003] }, route: 'b', http2: true });
    const v2 = new Snapshot({
      [TYPE_URL.CLUSTER]: { version: 'v2', resources: [...resourcesOf(v1, TYPE_URL.CLUSTER), ...resourcesOf(changed, TYPE_URL.CLUSTER)] },
      [TYPE_URL.ENDPOINT]: { version: 'v2', resources: [...resourcesOf(v1, TYPE_URL.ENDPOINT), ...resourcesOf(changed, TYPE_URL.ENDPOINT)] },
    });
    server.ads.setSnapshot(id, v2);
    const r2 = await s.next();
    assert.deepEqual(names(r2), ['b', 'c']);
    assert.deepEqual(r2.removed_resources, []);
    const versionB1 = r1.resources.find((r) => r.name === 'b')?.version;
    assert.notEqual(r2.resources.find((r) => r.name === 'b')?.version, versionB1);
    s.send({ type_url: TYPE_URL.CLUSTER, response_nonce: r2.nonce });
    // v3: b removed.
    server.ads.setSnapshot(
      id,
      new Snapshot({
        [TYPE_URL.CLUSTER]: { version: 'v3', resources: resourcesOf(v2, TYPE_URL.CLUSTER, ['a', 'c']) },
        [TYPE_URL.ENDPOINT]: { version: 'v3', resources: resourcesOf(v2, TYPE_URL.ENDPOINT, ['a', 'c']) },
      }),
    );
    const r3 = await s.next();
    assert.deepEqual(names(r3), []);
    assert.deepEqual(r3.removed_resources, ['b']);
    assert.equal(s.pending(), 0);
  });

  it('honours initial_resource_versions, unsubscribe, and does not resend a NACKed resource', async () => {
    const id = 'delta-2';
    const snap = meshSnapshot({ version: 'v1', clusters: { a: [1001], b: [1002] }, route: 'a' });
    server.ads.setSnapshot(id, snap);
    const versionA = snap.resources(TYPE_URL.ENDPOINT).get('a')?.version;
    const s = open();
    // Reconnect: the client already holds 'a' at its current version and a 'gone' that no longer exists.
    s.send({
      node: { id },
      type_url: TYPE_URL.ENDPOINT,
      resource_names_subscribe: ['a', 'b', 'gone'],
      initial_resource_versions: { a: versionA, gone: 'old' },
    });
    const r1 = await s.next();
    assert.deepEqual(names(r1), ['b'], 'a is not resent');
    assert.deepEqual(r1.removed_resources, ['gone']);
    // NACK it: nothing is resent.
    s.send({ type_url: TYPE_URL.ENDPOINT, response_nonce: r1.nonce, error_detail: { code: 3, message: 'b: bad endpoint' } });
    // Unsubscribe b, subscribe c (absent): no response for either. Then a new cluster c appears.
    s.send({ type_url: TYPE_URL.ENDPOINT, resource_names_unsubscribe: ['b'], resource_names_subscribe: ['c'] });
    // Barrier: requests are handled in order, so once CDS is answered the EDS change above was handled.
    s.send({ type_url: TYPE_URL.CLUSTER, resource_names_subscribe: [] });
    const barrier = await s.next();
    assert.equal(barrier.type_url, TYPE_URL.CLUSTER);
    server.ads.setSnapshot(id, meshSnapshot({ version: 'v2', clusters: { a: [1001], b: [1005], c: [1003] }, route: 'a' }));
    const r2 = await s.next();
    assert.deepEqual(names(r2), ['c'], 'b changed but is unsubscribed; a unchanged');
    assert.equal(s.pending(), 0);
    const mine = nacks.filter((n) => n.nodeId === id);
    assert.equal(mine.length, 1);
    assert.equal(mine[0].message, 'b: bad endpoint');
    const eds = server.ads.status().find((c) => c.node.id === id)?.types.find((t) => t.typeUrl === TYPE_URL.ENDPOINT);
    assert.deepEqual(eds?.subscribed, ['a', 'c', 'gone'], 'absent names stay subscribed');
    assert.equal(eds?.lastNack?.message, 'b: bad endpoint');
  });
});

describe('SDS StreamSecrets', () => {
  let server: TestAdsServer;
  const streams: { close(): void }[] = [];
  before(async () => {
    server = await startTestAdsServer();
  });
  after(async () => {
    for (const s of streams) s.close();
    await server.stop();
  });

  it('serves named secrets and refuses other types', async () => {
    const id = 'sidecar-agent';
    server.ads.setSnapshot(
      id,
      new Snapshot({
        [TYPE_URL.SECRET]: {
          version: 's1',
          resources: [tlsCertificateSecret('default', 'CHAIN-PEM', 'KEY-PEM'), validationContextSecret('ROOTCA', 'ROOT-PEM')],
        },
      }),
    );
    const s = openRawAdsStream<Req, SotwRes>(server.address, 'StreamSecrets');
    streams.push(s);
    s.send({ node: { id }, type_url: TYPE_URL.SECRET, resource_names: ['default'] });
    const r = await s.next();
    assert.equal(r.version_info, 's1');
    assert.deepEqual(r.resources.map((x) => x.name), ['default']);
    assert.equal(Buffer.from(r.resources[0].tls_certificate?.certificate_chain?.inline_bytes ?? '', 'base64').toString(), 'CHAIN-PEM');

    const bad = openRawAdsStream<Req, SotwRes>(server.address, 'StreamSecrets');
    streams.push(bad);
    bad.send({ node: { id }, type_url: TYPE_URL.CLUSTER, resource_names: [] });
    const st = await bad.status();
    assert.equal(st.code, 3);
    assert.match(st.details, /Cluster/);
  });
});
