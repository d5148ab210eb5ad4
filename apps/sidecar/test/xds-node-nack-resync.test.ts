/**
 * The proxy and Pilot: Istio's node metadata arrives with the first request; a bad resource is NACKed with
 * its field path and the last good config keeps serving; with Pilot gone the proxy keeps serving and
 * resynchronises when Pilot returns on the same address.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { AdsServer, clusterRoute, routeConfiguration, virtualHost, type NackEvent, type XdsNode } from '@mesh/xds';
import { quietLogger } from '@mesh/xds/testing';
import { cluster, listener, NODE_ID, request, snapshot, startBackend, startHarness, waitUntil, type Backend, type Harness, type Resources } from './helpers';

describe('xDS node metadata, NACK and resync', () => {
  let a: Backend;
  let b: Backend;
  let h: Harness;
  let port = 0;
  const nodes: XdsNode[] = [];
  const nacks: NackEvent[] = [];
  let base: Resources;

  before(async () => {
    a = await startBackend('a');
    b = await startBackend('b');
    const ca = cluster('outbound|80||a.default.svc.cluster.local', [{ port: a.port }]);
    base = {
      listeners: [listener('http.80', 'http.80')],
      routes: [routeConfiguration('http.80', [virtualHost('all', ['*'], [clusterRoute('/', 'outbound|80||a.default.svc.cluster.local')])])],
      clusters: [ca.cluster],
      endpoints: [ca.endpoints],
    };
    h = await startHarness(base);
    port = h.port('http.80');
    // Observe the connection from here on by wrapping the server's hooks through a fresh server below.
  });

  after(async () => {
    await h?.stop();
    await a?.close();
    await b?.close();
  });

  it('serves the initial config', async () => {
    assert.equal((await request(port)).headers['x-backend'], 'a');
  });

  it('keeps the last good routes when an update is refused, and NACKs with the field path', async () => {
    // Restart Pilot on the same address with hooks, serving a bad route (regex that does not compile).
    await h.ads.stop();
    const ads = new AdsServer({
      logger: quietLogger(),
      onConnect: (node) => {
        nodes.push(node);
        return undefined;
      },
      onNack: (e) => nacks.push(e),
    });
    const bad: Resources = {
      ...base,
      routes: [routeConfiguration('http.80', [virtualHost('all', ['*'], [{ match: { safe_regex: { regex: '([' } }, route: { cluster: 'outbound|80||a.default.svc.cluster.local' } } as never])])],
    };
    ads.setSnapshot(NODE_ID, snapshot(bad));
    const bound = await ads.listen(h.ads.address);
    try {
      await waitUntil('a NACK', () => nacks.length > 0, 15_000);
      assert.match(nacks[0].message, /virtual_hosts\[0\]\.routes\[0\]\.match\.safe_regex\.regex/);
      assert.equal((await request(port)).headers['x-backend'], 'a');
      // Istio's node metadata came with the first request.
      const node = nodes[0];
      assert.equal(node.id, NODE_ID);
      assert.equal(node.metadata.NAMESPACE, 'default');
      assert.deepEqual(node.metadata.LABELS, { app: 'client', version: 'v1' });
      assert.equal(node.metadata.INTERCEPTION_MODE, 'REDIRECT');
      // The admin view shows the rejection.
      const dump = await request(h.proxy.adminPort, { path: '/config_dump' });
      assert.match(dump.body, /error_state/);
    } finally {
      await bound.close();
    }
  });

  it('keeps serving while Pilot is down and takes new config when it returns', async () => {
    await waitUntil('disconnect', () => h.proxy.xds?.client.connected === false, 10_000);
    assert.equal((await request(port)).headers['x-backend'], 'a');
    const stats = await request(h.proxy.adminPort, { path: '/stats' });
    assert.match(stats.body, /control_plane\.connected_state: 0/);
    const cb = cluster('outbound|80||b.default.svc.cluster.local', [{ port: b.port }]);
    const next: Resources = {
      listeners: base.listeners,
      routes: [routeConfiguration('http.80', [virtualHost('all', ['*'], [clusterRoute('/', 'outbound|80||b.default.svc.cluster.local')])])],
      clusters: [cb.cluster],
      endpoints: [cb.endpoints],
    };
    const ads = new AdsServer({ logger: quietLogger() });
    ads.setSnapshot(NODE_ID, snapshot(next));
    const bound = await ads.listen(h.ads.address);
    try {
      await waitUntil('resync to b', () => h.proxy.clusters.get('outbound|80||b.default.svc.cluster.local') !== undefined && h.proxy.store.routes.resources.get('http.80')?.raw !== undefined && JSON.stringify(h.proxy.store.routes.resources.get('http.80')?.raw).includes('b.default'), 20_000);
      assert.equal((await request(port)).headers['x-backend'], 'b');
      assert.equal(h.proxy.clusters.get('outbound|80||a.default.svc.cluster.local'), undefined);
    } finally {
      await bound.close();
    }
  });
});
