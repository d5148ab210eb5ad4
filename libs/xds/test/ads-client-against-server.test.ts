/**
 * AdsClient against AdsServer over real loopback gRPC: ACK of accepted updates, NACK with field paths of
 * rejected ones (last good kept), subscription changes, and a server restart (the client keeps its last
 * good config, reconnects with backoff and re-subscribes).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { AdsClient, Snapshot, TYPE_URL, type AdsUpdate, type NackEvent, type SendEvent, type ValidationError } from '../src/index';
import { quietLogger, startTestAdsServer, waitFor, type TestAdsServer } from '../src/testing';
import { meshSnapshot } from './fixture-mesh';

for (const mode of ['sotw', 'delta'] as const) {
describe(`AdsClient against AdsServer (${mode})`, () => {
  const nodeId = `sidecar~127.0.0.1~app-${mode}.ns~ns.svc.cluster.local`;
  const serverNacks: NackEvent[] = [];
  const sends: SendEvent[] = [];
  let server: TestAdsServer | undefined;
  let client: AdsClient | undefined;
  const updates: AdsUpdate[] = [];
  const events: string[] = [];

  const start = (port = 0): Promise<TestAdsServer> => startTestAdsServer({ port, options: { onNack: (e) => serverNacks.push(e), onSend: (e) => sends.push(e) } });

  after(async () => {
    await client?.close();
    await server?.stop();
  });

  const validateClusters = (u: AdsUpdate): ValidationError[] => {
    const errors: ValidationError[] = [];
    for (const [name, c] of u.resources) {
      if ((c as { lb_policy?: string }).lb_policy !== 'ROUND_ROBIN') {
        errors.push({ resource: name, path: 'lb_policy', message: `unsupported ${String((c as { lb_policy?: string }).lb_policy)}` });
      }
    }
    return errors;
  };

  it('subscribes, receives every type and ACKs', async () => {
    server = await start();
    server.ads.setSnapshot(nodeId, meshSnapshot({ version: 'v1', clusters: { a: [1001], b: [1002] }, route: 'a' }));
    client = new AdsClient({
      target: server.address,
      node: { id: nodeId, cluster: 'app.ns', metadata: { NAMESPACE: 'ns' } },
      mode,
      logger: quietLogger('xds-client-test'),
      backoff: { initialMs: 50, maxMs: 400 },
    });
    client.on('connected', () => events.push('connected'));
    client.on('disconnected', () => events.push('disconnected'));
    client.subscribe(TYPE_URL.CLUSTER, '*', validateClusters);
    client.subscribe(TYPE_URL.LISTENER, '*', (u) => void updates.push(u));
    client.subscribe(TYPE_URL.ROUTE, ['routes'], (u) => void updates.push(u));
    client.subscribe(TYPE_URL.ENDPOINT, ['a'], (u) => void updates.push(u));
    client.start();
    const c = client;
    await waitFor('all four types', () => [TYPE_URL.CLUSTER, TYPE_URL.LISTENER, TYPE_URL.ROUTE, TYPE_URL.ENDPOINT].every((t) => c.current(t)?.version === 'v1'));
    assert.deepEqual([...(c.current(TYPE_URL.CLUSTER)?.resources.keys() ?? [])].sort(), ['a', 'b']);
    assert.deepEqual([...(c.current(TYPE_URL.ENDPOINT)?.resources.keys() ?? [])], ['a']);
    const l = c.current(TYPE_URL.LISTENER)?.resources.get('http');
    assert.equal(l?.['@type'], TYPE_URL.LISTENER);
    const srv = server;
    await waitFor('server sees the ACKs', () =>
      srv.ads.status()[0]?.types.every((t) => t.ackedVersion === 'v1' && t.ackedVersion === t.sentVersion),
    );
    const st = srv.ads.status()[0];
    assert.equal(st.node.id, nodeId);
    assert.deepEqual(st.node.metadata, { NAMESPACE: 'ns' });
    assert.deepEqual(events, ['connected']);
  });

  it('NACKs what the handler rejects, with field paths, and keeps the last good config', async () => {
    assert.ok(server && client);
    const bad = meshSnapshot({ version: 'v2', clusters: { a: [1001], b: [1002] }, route: 'a' });
    const cluster = bad.resources(TYPE_URL.CLUSTER).get('b')?.resource as Record<string, unknown>;
    const clusters = [...bad.resources(TYPE_URL.CLUSTER).values()].map((r) => (r.name === 'b' ? { ...cluster, lb_policy: 'RANDOM' } : r.resource));
    const snap = new Snapshot({
      [TYPE_URL.CLUSTER]: { version: 'v2', resources: clusters },
      [TYPE_URL.ENDPOINT]: { version: 'v1', resources: [...bad.resources(TYPE_URL.ENDPOINT).values()].map((r) => r.resource) },
    });
    const nacked = new Promise<{ message: string }>((resolve) => client?.once('nack', resolve));
    server.ads.setSnapshot(nodeId, snap);
    const ev = await nacked;
    assert.equal(ev.message, 'b: lb_policy: unsupported RANDOM');
    const srv = server;
    const serverNack = await waitFor('server NACK hook', () => serverNacks.find((n) => n.typeUrl === TYPE_URL.CLUSTER));
    assert.equal(serverNack.message, 'b: lb_policy: unsupported RANDOM');
    assert.equal(serverNack.keptVersion, 'v1');
    assert.equal(client.current(TYPE_URL.CLUSTER)?.version, 'v1');
    assert.equal((client.current(TYPE_URL.CLUSTER)?.resources.get('b') as { lb_policy?: string }).lb_policy, 'ROUND_ROBIN');
    assert.equal(srv.ads.status()[0].types.find((t) => t.typeUrl === TYPE_URL.CLUSTER)?.ackedVersion, 'v1');
  });

  it('changes its subscription at any time', async () => {
    assert.ok(server && client);
    const c = client;
    c.subscribe(TYPE_URL.ENDPOINT, ['a', 'b']);
    await waitFor('endpoints of b', () => c.current(TYPE_URL.ENDPOINT)?.resources.has('b'));
    assert.deepEqual([...(c.current(TYPE_URL.ENDPOINT)?.resources.keys() ?? [])].sort(), ['a', 'b']);
    c.subscribe(TYPE_URL.ENDPOINT, ['b']);
    assert.deepEqual([...(c.current(TYPE_URL.ENDPOINT)?.resources.keys() ?? [])], ['b']);
    const srv = server;
    await waitFor('server sees the new subscription', () => {
      const eds = srv.ads.status()[0]?.types.find((t) => t.typeUrl === TYPE_URL.ENDPOINT);
      return JSON.stringify(eds?.subscribed) === JSON.stringify(['b']);
    });
  });

  it('keeps the last good config while the server is away, reconnects and re-subscribes', async () => {
    assert.ok(server && client);
    const c = client;
    const port = server.port;
    await server.stop();
    server = undefined;
    await waitFor('client notices', () => !c.connected);
    assert.equal(c.current(TYPE_URL.CLUSTER)?.version, 'v1', 'last good kept');
    assert.equal(c.current(TYPE_URL.LISTENER)?.resources.size, 1);

    sends.length = 0;
    server = await start(port);
    server.ads.setSnapshot(nodeId, meshSnapshot({ version: 'v3', clusters: { a: [1001], b: [1002], c: [1003] }, route: 'a' }));
    await waitFor('client on v3', () => c.current(TYPE_URL.CLUSTER)?.version === 'v3', { timeoutMs: 10_000 });
    assert.deepEqual([...(c.current(TYPE_URL.CLUSTER)?.resources.keys() ?? [])].sort(), ['a', 'b', 'c']);
    assert.ok(c.connected);
    const srv = server;
    const eds = await waitFor('re-subscribed EDS', () => srv.ads.status()[0]?.types.find((t) => t.typeUrl === TYPE_URL.ENDPOINT));
    assert.deepEqual(eds.subscribed, ['b']);
    const cdsSends = sends.filter((e) => e.typeUrl === TYPE_URL.CLUSTER);
    // Delta: the client told the new server what it holds (initial_resource_versions): only c travels.
    assert.deepEqual(cdsSends[0]?.resourceNames.sort(), mode === 'delta' ? ['c'] : ['a', 'b', 'c']);
    assert.deepEqual(events, ['connected', 'disconnected', 'connected']);
  });
});
}
