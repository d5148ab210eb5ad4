/**
 * A real Envoy bootstrapped against the AdsServer, once with SotW (GRPC) and once with Delta (DELTA_GRPC):
 * listener -> RDS route -> EDS cluster -> a local HTTP server. Asserted through real requests and Envoy's
 * admin: versions applied, an invalid resource NACKed (seen by the server hooks) while traffic keeps
 * flowing, an update applied, a removed cluster removed.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { depPath, freePort, requireDep, startEnvoy, type EnvoyHandle } from '@mesh/deps';
import {
  clusterRoute,
  routeConfiguration,
  Snapshot,
  TYPE_URL,
  virtualHost,
  type NackEvent,
} from '../src/index';
import {
  dumpVersion,
  dynamicResources,
  envoyBootstrap,
  httpGetText,
  readClusters,
  readConfigDump,
  startTestAdsServer,
  waitFor,
  type TestAdsServer,
} from '../src/testing';
import { meshSnapshot } from './fixture-mesh';

async function startBackend(name: string): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.setHeader('x-backend', name);
    res.end(name);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

for (const mode of ['GRPC', 'DELTA_GRPC'] as const) {
  describe(`Envoy over ADS (${mode})`, () => {
    const nodeId = `envoy-${mode.toLowerCase()}`;
    const nacks: NackEvent[] = [];
    let ads: TestAdsServer;
    let envoy: EnvoyHandle | undefined;
    let backends: { port: number; close(): Promise<void> }[] = [];
    let listenerPort = 0;
    let skipped = false;

    let current: Snapshot | undefined;
    const snapshotV = (version: string, clusters: Record<string, number[]>, route: string, connectTimeoutMs?: Record<string, number>): Snapshot =>
      (current = meshSnapshot({ version, clusters, route, listenerPort, connectTimeoutMs }));
    // SotW: a resource shows the version of the response that last changed it. Delta: its own version.
    const expectedVersion = (typeUrl: string, name: string, sotwVersion: string): string =>
      mode === 'GRPC' ? sotwVersion : (current?.resources(typeUrl).get(name)?.version ?? 'missing');
    const get = async (): Promise<string> => (await httpGetText(`http://127.0.0.1:${listenerPort}/`)).body;

    before(async () => {
      // Each test calls requireDep (skip locally, fail under CI) when Envoy is missing.
      if (!depPath('envoy')) {
        skipped = true;
        return;
      }
      backends = [await startBackend('A'), await startBackend('B')];
      listenerPort = await freePort('127.0.0.1');
      ads = await startTestAdsServer({ options: { onNack: (e) => nacks.push(e) } });
      ads.ads.setSnapshot(nodeId, snapshotV('v1', { a: [backends[0].port], b: [backends[1].port] }, 'a'));
      envoy = await startEnvoy({ config: envoyBootstrap({ nodeId, xdsPort: ads.port, mode }) });
    });

    after(async () => {
      await envoy?.stop();
      await ads?.stop();
      for (const b of backends) await b.close();
    });

    it('proxies a real request on the served config, versions in config_dump and no error_state', async (t) => {
      if (skipped) return void requireDep(t, 'envoy');
      assert.ok(envoy);
      const adminUrl = envoy.adminUrl;
      assert.equal(await waitFor('traffic through Envoy', async () => (await get()) === 'A' && 'A', { timeoutMs: 20_000 }), 'A');
      const dump = await readConfigDump(adminUrl);
      const kinds = [
        ['listeners', TYPE_URL.LISTENER],
        ['clusters', TYPE_URL.CLUSTER],
        ['routes', TYPE_URL.ROUTE],
        ['endpoints', TYPE_URL.ENDPOINT],
      ] as const;
      for (const [kind, typeUrl] of kinds) {
        const resources = dynamicResources(dump, kind);
        assert.deepEqual(resources.map((r) => r.name).sort(), [...(current?.resources(typeUrl).keys() ?? [])].sort(), `${kind} names`);
        for (const r of resources) {
          // Envoy leaves EDS versions empty in config dumps.
          if (kind !== 'endpoints') {
            assert.equal(r.version_info, expectedVersion(typeUrl, r.name, 'v1'), `${kind} ${r.name} version`);
          }
          assert.equal(r.error_state, undefined, `${kind} ${r.name} error_state`);
        }
      }
      const status = () => ads.ads.status().find((c) => c.node.id === nodeId);
      assert.equal(status()?.kind, mode === 'GRPC' ? 'sotw' : 'delta');
      for (const typeUrl of [TYPE_URL.LISTENER, TYPE_URL.CLUSTER, TYPE_URL.ROUTE]) {
        const acked = () => status()?.types.find((x) => x.typeUrl === typeUrl)?.ackedVersion;
        await waitFor(`${typeUrl} acked`, () => acked() === 'v1', { timeoutMs: 5000 }).catch(() => undefined);
        assert.equal(acked(), 'v1', `${typeUrl} acked`);
      }
    });

    it('NACKs an invalid route config, the server sees error_detail, traffic keeps flowing', async (t) => {
      if (skipped || !envoy) return void requireDep(t, 'envoy');
      const good = snapshotV('v2', { a: [backends[0].port], b: [backends[1].port] }, 'a');
      // Two virtual hosts with the same domain: valid protobuf, refused by Envoy.
      const badRoutes = routeConfiguration('routes', [
        virtualHost('one', ['*'], [clusterRoute('/', 'b')]),
        virtualHost('two', ['*'], [clusterRoute('/', 'b')]),
      ]);
      const bad = new Snapshot({
        [TYPE_URL.LISTENER]: { version: 'v1', resources: [...good.resources(TYPE_URL.LISTENER).values()].map((r) => r.resource) },
        [TYPE_URL.CLUSTER]: { version: 'v1', resources: [...good.resources(TYPE_URL.CLUSTER).values()].map((r) => r.resource) },
        [TYPE_URL.ENDPOINT]: { version: 'v1', resources: [...good.resources(TYPE_URL.ENDPOINT).values()].map((r) => r.resource) },
        [TYPE_URL.ROUTE]: { version: 'v2-bad', resources: [badRoutes] },
      });
      ads.ads.setSnapshot(nodeId, bad);
      const nack = await waitFor('a NACK of the route config', () => nacks.find((n) => n.nodeId === nodeId && n.typeUrl === TYPE_URL.ROUTE), {
        timeoutMs: 10_000,
      });
      assert.equal(nack.rejectedVersion, 'v2-bad');
      assert.match(nack.message, /domain/i);
      const status = ads.ads.status().find((c) => c.node.id === nodeId)?.types.find((x) => x.typeUrl === TYPE_URL.ROUTE);
      assert.match(status?.lastNack?.message ?? '', /domain/i);
      assert.equal(status?.ackedVersion, 'v1');
      for (let i = 0; i < 5; i++) assert.equal(await get(), 'A', 'last good config still routes to A');
      const routes = dynamicResources(await readConfigDump(envoy.adminUrl), 'routes');
      const v1Routes = meshSnapshot({ version: 'v1', clusters: { a: [backends[0].port], b: [backends[1].port] }, route: 'a', listenerPort });
      const keptVersion = mode === 'GRPC' ? 'v1' : v1Routes.resources(TYPE_URL.ROUTE).get('routes')?.version;
      assert.equal(routes.find((r) => r.name === 'routes')?.version_info, keptVersion, 'Envoy kept the last good routes');
    });

    it('applies an update and removes a removed cluster', async (t) => {
      if (skipped || !envoy) return void requireDep(t, 'envoy');
      const adminUrl = envoy.adminUrl;
      // Cluster b changes too (connect timeout): Envoy rebuilds it and must get its endpoints again.
      ads.ads.setSnapshot(nodeId, snapshotV('v3', { a: [backends[0].port], b: [backends[1].port] }, 'b', { b: 2000 }));
      await waitFor('traffic moved to B', async () => (await get()) === 'B', { timeoutMs: 10_000 });
      const clustersDump = async (): Promise<Record<string, unknown>> =>
        (await readConfigDump(adminUrl)).configs.find((c) => String(c['@type']).endsWith('ClustersConfigDump')) ?? {};
      const activeB = async (): Promise<unknown> =>
        ((await clustersDump()).dynamic_active_clusters as { cluster: { name: string; connect_timeout?: string } }[]).find(
          (c) => c.cluster.name === 'b',
        )?.cluster.connect_timeout;
      await waitFor('the changed cluster b is active', async () => (await activeB()) === '2s', { timeoutMs: 10_000 }).catch(() => undefined);
      assert.equal(await activeB(), '2s', 'the changed cluster b left warming (it got its endpoints)');
      assert.equal(((await clustersDump()).dynamic_warming_clusters as unknown[] | undefined)?.length ?? 0, 0, 'no cluster stuck warming');
      assert.equal(
        dynamicResources(await readConfigDump(adminUrl), 'routes').find((r) => r.name === 'routes')?.version_info,
        expectedVersion(TYPE_URL.ROUTE, 'routes', 'v3'),
      );
      assert.ok((await readClusters(adminUrl)).has('a'), 'cluster a still there before removal');

      ads.ads.setSnapshot(nodeId, snapshotV('v4', { b: [backends[1].port] }, 'b', { b: 2000 }));
      await waitFor('cluster a removed', async () => !(await readClusters(adminUrl)).has('a'), { timeoutMs: 10_000 });
      const dump = await readConfigDump(adminUrl);
      const clusters = dynamicResources(dump, 'clusters');
      assert.deepEqual(clusters.map((c) => c.name).sort(), ['b']);
      assert.equal(clusters[0].error_state, undefined);
      // SotW: the CDS version Envoy applied. (Delta: Envoy keeps per-resource versions only.)
      if (mode === 'GRPC') assert.equal(dumpVersion(dump, 'clusters'), 'v4', 'CDS version applied');
      const ackedCds = (): string | undefined =>
        ads.ads.status().find((c) => c.node.id === nodeId)?.types.find((x) => x.typeUrl === TYPE_URL.CLUSTER)?.ackedVersion;
      await waitFor('Envoy ACKs CDS v4', () => ackedCds() === 'v4', { timeoutMs: 5000 }).catch(() => undefined);
      assert.equal(ackedCds(), 'v4');
      assert.equal(await get(), 'B');
    });
    it('switches a route to a new cluster and drops the old one without failing a request (make before break)', async (t) => {
      if (skipped || !envoy) return void requireDep(t, 'envoy');
      const adminUrl = envoy.adminUrl;
      // Clients keep sending while the route moves from cluster b to a new cluster c (b removed).
      let stop = false;
      const failures: string[] = [];
      let served = 0;
      const load = (async () => {
        for (let i = 0; i < 5000 && !stop; i++) {
          const res = await httpGetText(`http://127.0.0.1:${listenerPort}/`).catch((err: Error) => ({ status: 0, body: err.message }));
          if (res.status !== 200) failures.push(`${res.status} ${res.body.slice(0, 80)}`);
          else served++;
        }
      })();
      await waitFor('some traffic before the switch', () => served > 20, { timeoutMs: 5000 });
      ads.ads.setSnapshot(nodeId, snapshotV('v5', { c: [backends[0].port] }, 'c'));
      await waitFor('traffic on the new cluster (A)', async () => (await get()) === 'A', { timeoutMs: 10_000 });
      await waitFor('cluster b removed', async () => !(await readClusters(adminUrl)).has('b'), { timeoutMs: 10_000 });
      const after = served;
      await waitFor('more traffic after the switch', () => served > after + 20, { timeoutMs: 5000 });
      stop = true;
      await load;
      assert.deepEqual(failures, [], 'no request failed during the switch');
    });
  });
}
