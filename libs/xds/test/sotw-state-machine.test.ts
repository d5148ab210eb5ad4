/**
 * The SotW state machine through a real grpc-js stream: versions, nonces, ACK/NACK, subscription diff,
 * absent resources, nothing resent when nothing changed, make-before-break order, refused bad requests.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Snapshot, TYPE_URL, type AckEvent, type NackEvent, type XdsNode } from '../src/index';
import { openRawAdsStream, startTestAdsServer, type RawAdsStream, type TestAdsServer } from '../src/testing';
import { meshSnapshot } from './fixture-mesh';

interface Res {
  version_info: string;
  type_url: string;
  nonce: string;
  resources: { '@type': string; name?: string; cluster_name?: string }[];
}
type Req = Record<string, unknown>;

const NODE = {
  id: 'sidecar~10.0.0.1~a.ns~ns.svc.cluster.local',
  cluster: 'a.ns',
  metadata: { fields: { NAMESPACE: { stringValue: 'ns' }, LABELS: { structValue: { fields: { app: { stringValue: 'a' } } } } } },
  locality: { region: 'r1', zone: 'z1', sub_zone: '' },
};

const names = (r: Res): string[] => r.resources.map((x) => x.name ?? x.cluster_name ?? '').sort();

describe('SotW ADS state machine', () => {
  let server: TestAdsServer;
  const acks: AckEvent[] = [];
  const nacks: NackEvent[] = [];
  const connected: XdsNode[] = [];
  const streams: RawAdsStream<Req, Res>[] = [];

  before(async () => {
    server = await startTestAdsServer({
      options: {
        onAck: (e) => acks.push(e),
        onNack: (e) => nacks.push(e),
        onConnect: (node) => {
          connected.push(node);
          return undefined;
        },
      },
    });
  });
  after(async () => {
    for (const s of streams) s.close();
    await server.stop();
  });

  const open = (): RawAdsStream<Req, Res> => {
    const s = openRawAdsStream<Req, Res>(server.address);
    streams.push(s);
    return s;
  };

  it('answers wildcard CDS with every cluster, records the ACK, decodes the node', async () => {
    server.ads.setSnapshot(NODE.id, meshSnapshot({ version: 'v1', clusters: { a: [1001], b: [1002] }, route: 'a' }));
    const s = open();
    s.send({ node: NODE, type_url: TYPE_URL.CLUSTER, resource_names: [] });
    const r = await s.next();
    assert.equal(r.type_url, TYPE_URL.CLUSTER);
    assert.equal(r.version_info, 'v1');
    assert.ok(r.nonce.length > 0);
    assert.deepEqual(names(r), ['a', 'b']);
    assert.equal(r.resources[0]['@type'], TYPE_URL.CLUSTER);
    s.send({ type_url: TYPE_URL.CLUSTER, version_info: 'v1', response_nonce: r.nonce, resource_names: [] });
    // The next response is for another type: proves no CDS was resent on ACK and orders the ack first.
    s.send({ type_url: TYPE_URL.LISTENER, resource_names: [] });
    const l = await s.next();
    assert.equal(l.type_url, TYPE_URL.LISTENER);
    const ack = acks.find((a) => a.typeUrl === TYPE_URL.CLUSTER && a.nonce === r.nonce);
    assert.ok(ack, 'ACK hook called');
    assert.equal(ack.version, 'v1');
    const node = connected.find((n) => n.id === NODE.id);
    assert.ok(node);
    assert.deepEqual(node.metadata, { NAMESPACE: 'ns', LABELS: { app: 'a' } });
    assert.equal(node.locality.zone, 'z1');
    const st = server.ads.status().find((c) => c.node.id === NODE.id);
    const cds = st?.types.find((t) => t.typeUrl === TYPE_URL.CLUSTER);
    assert.equal(cds?.ackedVersion, 'v1');
    assert.equal(cds?.subscribed, '*');
    s.close();
  });

  it('ignores stale nonces and does not resend after a NACK', async () => {
    const id = 'node-nack';
    server.ads.setSnapshot(id, meshSnapshot({ version: 'v1', clusters: { a: [1001] }, route: 'a' }));
    const s = open();
    s.send({ node: { id }, type_url: TYPE_URL.CLUSTER, resource_names: [] });
    const r1 = await s.next();
    server.ads.setSnapshot(id, meshSnapshot({ version: 'v2', clusters: { a: [1001], b: [1002] }, route: 'a' }));
    const r2 = await s.next();
    assert.equal(r2.version_info, 'v2');
    assert.notEqual(r2.nonce, r1.nonce);
    // A NACK carrying the old nonce is stale: ignored (no hook, no status change).
    s.send({ type_url: TYPE_URL.CLUSTER, version_info: '', response_nonce: r1.nonce, error_detail: { code: 3, message: 'stale' } });
    // The real NACK of v2.
    s.send({ type_url: TYPE_URL.CLUSTER, version_info: 'v1', response_nonce: r2.nonce, error_detail: { code: 3, message: 'cluster b: bad' } });
    s.send({ type_url: TYPE_URL.LISTENER, resource_names: [] });
    const next = await s.next();
    assert.equal(next.type_url, TYPE_URL.LISTENER, 'CDS is not resent after the NACK');
    const mine = nacks.filter((n) => n.nodeId === id);
    assert.equal(mine.length, 1, 'the stale NACK was ignored');
    assert.equal(mine[0].message, 'cluster b: bad');
    assert.equal(mine[0].rejectedVersion, 'v2');
    assert.equal(mine[0].keptVersion, 'v1');
    const cds = server.ads.status().find((c) => c.node.id === id)?.types.find((t) => t.typeUrl === TYPE_URL.CLUSTER);
    assert.equal(cds?.lastNack?.message, 'cluster b: bad');
    assert.equal(cds?.sentVersion, 'v2');
    assert.equal(cds?.ackedVersion, '', 'nothing acked');
    // Same snapshot again: nothing. A new version: sent.
    server.ads.setSnapshot(id, meshSnapshot({ version: 'v3', clusters: { a: [1001], b: [1003] }, route: 'a' }));
    const r3 = await s.next();
    assert.equal(r3.type_url, TYPE_URL.CLUSTER);
    assert.equal(r3.version_info, 'v3');
    s.close();
  });

  it('diffs resource_names on every request, remembers absent names, sends only what changed for RDS/EDS', async () => {
    const id = 'node-eds';
    server.ads.setSnapshot(id, meshSnapshot({ version: 'v1', clusters: { a: [1001], b: [1002] }, route: 'a' }));
    const s = open();
    s.send({ node: { id }, type_url: TYPE_URL.ENDPOINT, resource_names: ['a'] });
    const r1 = await s.next();
    assert.deepEqual(names(r1), ['a']);
    // An ACK that also adds names: 'b' exists (sent alone: 'a' is unchanged), 'c' does not (remembered).
    s.send({ type_url: TYPE_URL.ENDPOINT, version_info: 'v1', response_nonce: r1.nonce, resource_names: ['a', 'b', 'c'] });
    const r2 = await s.next();
    assert.deepEqual(names(r2), ['b']);
    s.send({ type_url: TYPE_URL.ENDPOINT, version_info: 'v1', response_nonce: r2.nonce, resource_names: ['a', 'b', 'c'] });
    // Same versions again: nothing for EDS.
    server.ads.setSnapshot(id, meshSnapshot({ version: 'v1', clusters: { a: [1001], b: [1002] }, route: 'a' }));
    // v2: 'c' appears, 'b' changes, 'a' stays: b and c travel.
    server.ads.setSnapshot(id, meshSnapshot({ version: 'v2', clusters: { a: [1001], b: [1005], c: [1003] }, route: 'a' }));
    const r3 = await s.next();
    assert.equal(r3.version_info, 'v2', 'the unchanged v1 snapshot produced no response');
    assert.deepEqual(names(r3), ['b', 'c']);
    s.send({ type_url: TYPE_URL.ENDPOINT, version_info: 'v2', response_nonce: r3.nonce, resource_names: ['a', 'b', 'c'] });
    // v3 with the same content: nothing changed for this client, nothing sent (a barrier proves it).
    server.ads.setSnapshot(id, meshSnapshot({ version: 'v3', clusters: { a: [1001], b: [1005], c: [1003] }, route: 'a' }));
    s.send({ type_url: TYPE_URL.CLUSTER, resource_names: [] });
    const barrier = await s.next();
    assert.equal(barrier.type_url, TYPE_URL.CLUSTER);
    assert.equal(s.pending(), 0);
    s.close();
  });

  it('sends a resource again when a name is unsubscribed and subscribed again', async () => {
    const id = 'node-resubscribe';
    server.ads.setSnapshot(id, meshSnapshot({ version: 'v1', clusters: { a: [1001], b: [1002] }, route: 'a' }));
    const s = open();
    s.send({ node: { id }, type_url: TYPE_URL.ENDPOINT, resource_names: ['a', 'b'] });
    const r1 = await s.next();
    assert.deepEqual(names(r1), ['a', 'b']);
    // Drop b and add a name that does not exist (no response), then take b back.
    s.send({ type_url: TYPE_URL.ENDPOINT, version_info: 'v1', response_nonce: r1.nonce, resource_names: ['a', 'x'] });
    s.send({ type_url: TYPE_URL.ENDPOINT, version_info: 'v1', response_nonce: r1.nonce, resource_names: ['a', 'b'] });
    const r2 = await s.next();
    assert.deepEqual(names(r2), ['b'], 'b is sent again, a is not');
    s.close();
  });

  it('pushes CDS, EDS, LDS, RDS in order and removes stale clusters last', async () => {
    const id = 'node-order';
    server.ads.setSnapshot(id, meshSnapshot({ version: 'v1', clusters: { old: [1001] }, route: 'old' }));
    const s = open();
    s.send({ node: { id }, type_url: TYPE_URL.CLUSTER, resource_names: [] });
    const c1 = await s.next();
    s.send({ type_url: TYPE_URL.CLUSTER, version_info: 'v1', response_nonce: c1.nonce, resource_names: [] });
    s.send({ type_url: TYPE_URL.ENDPOINT, resource_names: ['old', 'new'] });
    const e1 = await s.next();
    assert.deepEqual(names(e1), ['old']);
    s.send({ type_url: TYPE_URL.ENDPOINT, version_info: 'v1', response_nonce: e1.nonce, resource_names: ['old', 'new'] });
    s.send({ type_url: TYPE_URL.LISTENER, resource_names: [] });
    const l1 = await s.next();
    s.send({ type_url: TYPE_URL.LISTENER, version_info: 'v1', response_nonce: l1.nonce, resource_names: [] });
    s.send({ type_url: TYPE_URL.ROUTE, resource_names: ['routes'] });
    const r1 = await s.next();
    s.send({ type_url: TYPE_URL.ROUTE, version_info: 'v1', response_nonce: r1.nonce, resource_names: ['routes'] });

    server.ads.setSnapshot(id, meshSnapshot({ version: 'v2', clusters: { new: [1002] }, route: 'new' }));
    const order: [string, string[]][] = [];
    for (let i = 0; i < 5; i++) {
      const r = await s.next();
      order.push([r.type_url, names(r)]);
    }
    assert.deepEqual(order, [
      [TYPE_URL.CLUSTER, ['new', 'old']],
      [TYPE_URL.ENDPOINT, ['new']],
      [TYPE_URL.LISTENER, ['http']],
      [TYPE_URL.ROUTE, ['routes']],
      [TYPE_URL.CLUSTER, ['new']],
    ]);
    s.close();
  });

  it('refuses an inconsistent snapshot, naming what is missing, and keeps the previous one', () => {
    const id = 'node-inconsistent';
    const good = meshSnapshot({ version: 'v1', clusters: { a: [1001] }, route: 'a' });
    server.ads.setSnapshot(id, good);
    const pick = (typeUrl: string, name: string): object => {
      const r = good.resources(typeUrl).get(name);
      assert.ok(r, `${name} in fixture`);
      return r.resource;
    };
    const bad = new Snapshot({
      [TYPE_URL.LISTENER]: { version: 'v2', resources: [pick(TYPE_URL.LISTENER, 'http')] },
      [TYPE_URL.ROUTE]: { version: 'v2', resources: [] },
      [TYPE_URL.CLUSTER]: { version: 'v2', resources: [pick(TYPE_URL.CLUSTER, 'a')] },
      [TYPE_URL.ENDPOINT]: { version: 'v2', resources: [] },
    });
    assert.throws(
      () => server.ads.setSnapshot(id, bad),
      (err: Error & { code?: string }) =>
        err.code === 'MESH_ERR_XDS_SNAPSHOT_INVALID' && /missing route "routes"/.test(err.message) && /missing endpoints "a"/.test(err.message),
    );
    assert.equal(server.ads.getSnapshot(id), good);
    const duplicate = new Snapshot({
      [TYPE_URL.CLUSTER]: { version: 'v3', resources: [pick(TYPE_URL.CLUSTER, 'a'), pick(TYPE_URL.CLUSTER, 'a')] },
      [TYPE_URL.ENDPOINT]: { version: 'v3', resources: [pick(TYPE_URL.ENDPOINT, 'a')] },
    });
    assert.throws(() => server.ads.setSnapshot(id, duplicate), /duplicate Cluster "a"/);
    assert.equal(server.ads.getSnapshot(id), good);
  });

  it('ends a stream that asks for an unknown type with INVALID_ARGUMENT and keeps serving others', async () => {
    const s = open();
    s.send({ node: { id: 'node-bad' }, type_url: 'type.googleapis.com/no.Such', resource_names: [] });
    const st = await s.status();
    assert.equal(st.code, 3);
    assert.match(st.details, /no\.Such/);
    const ok = open();
    ok.send({ node: { id: NODE.id }, type_url: TYPE_URL.CLUSTER, resource_names: [] });
    const r = await ok.next();
    assert.equal(r.type_url, TYPE_URL.CLUSTER);
    ok.close();
  });

  it('refuses a stream whose first request has no node id', async () => {
    const s = open();
    s.send({ type_url: TYPE_URL.CLUSTER, resource_names: [] });
    const st = await s.status();
    assert.equal(st.code, 3);
    assert.match(st.details, /node\.id/);
  });
});
