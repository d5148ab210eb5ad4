/**
 * meshctl against the real thing: the Pilot binary watching <state-dir>/config, a real Envoy connected to
 * it over ADS, and the local mesh's topology file naming both. status shows the Envoy SYNCED; apply of
 * Bookinfo's networking YAML reaches Envoy's /config_dump; proxy-config lists Envoy's outbound clusters
 * (found by proxy id through the topology); delete removes them again; a NACK shows as NACKED.
 */
import { strict as assert } from 'node:assert';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { IN_CI, requireDep, startEnvoy, type EnvoyHandle } from '@mesh/deps';
import { dynamicResources, envoyBootstrap, openRawAdsStream, readConfigDump, type RawAdsStream } from '@mesh/xds/testing';
import { eventually, meshctl, PILOT, ROOT, startPilotBinary, type RunningPilotBinary } from './test/run-meshctl';

const BOOKINFO = join(ROOT, 'samples/bookinfo');
// The proxy's IP is none of the Bookinfo WorkloadEntries' (127.0.0.1): Pilot then gives it no inbound
// listeners, so this Envoy binds no fixed port (9080...) that a running local mesh may hold.
const PROXY_ID = 'sidecar~10.255.0.1~productpage-v1.default~default.svc.cluster.local';
const NACKER_ID = 'sidecar~10.255.0.2~nacker.default~default.svc.cluster.local';
const CDS = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
const REVIEWS_V1 = 'outbound|9080|v1|reviews.default.svc.cluster.local';
const REVIEWS = 'outbound|9080||reviews.default.svc.cluster.local';

interface StatusJson {
  ok: boolean;
  components: { name: string; up: boolean }[];
  pilot: { url: string; ready: boolean };
  proxies: { proxy: string; types: Record<string, { state: string; nack?: string }> }[];
}

describe('meshctl with a real Pilot and a real Envoy', () => {
  let dir = '';
  let stateDir = '';
  let pilot: RunningPilotBinary | undefined;
  let envoy: EnvoyHandle | undefined;
  let nacker: RawAdsStream<Record<string, unknown>, { version_info: string; nonce: string }> | undefined;
  let skipReason: string | undefined;

  before(async () => {
    if (!existsSync(PILOT)) {
      if (IN_CI) throw new Error(`${PILOT} is missing: build pilot first (node tools/build-app.mjs apps/pilot)`);
      skipReason = 'pilot is not built (node tools/build-app.mjs apps/pilot)';
      return;
    }
    // requireDep's contract (skip locally, throw under CI), for a hook: each test skips with the reason.
    if (!requireDep({ skip: (message?: string) => (skipReason = message ?? 'missing dependency envoy') }, 'envoy')) return;
    dir = mkdtempSync(join(tmpdir(), 'meshctl-e2e-'));
    stateDir = join(dir, 'state');
    mkdirSync(join(stateDir, 'config'), { recursive: true });
    // Seeded as `npm start` seeds it: the registry and the subsets of every service.
    copyFileSync(join(BOOKINFO, 'registry/bookinfo-workloads.yaml'), join(stateDir, 'config/bookinfo-workloads.yaml'));
    copyFileSync(join(BOOKINFO, 'networking/destination-rule-all.yaml'), join(stateDir, 'config/destination-rule-all.yaml'));
    pilot = await startPilotBinary(join(stateDir, 'config'));
    envoy = await startEnvoy({
      config: envoyBootstrap({ nodeId: PROXY_ID, xdsPort: pilot.xdsPort, metadata: { NAMESPACE: 'default', LABELS: { app: 'productpage', version: 'v1' } } }),
    });
    // The local mesh's state file, as tools/local-mesh writes it while running.
    writeFileSync(
      join(stateDir, 'topology.json'),
      JSON.stringify({
        ready: true,
        supervisorPid: process.pid,
        components: [
          { name: 'pilot', role: 'control-plane', pid: process.pid, ports: [{ name: 'xds', host: '127.0.0.1', port: pilot.xdsPort }, { name: 'debug', host: '127.0.0.1', port: pilot.debugPort }], links: [] },
          { name: 'sidecar-productpage-v1', role: 'sidecar', pid: envoy.pid, ports: [{ name: 'admin', host: '127.0.0.1', port: envoy.adminPort }], links: [] },
        ],
        skipped: [],
      }),
    );
  });

  after(async () => {
    nacker?.close();
    await envoy?.stop();
    await pilot?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const status = async (): Promise<StatusJson & { code: number; table: string }> => {
    const r = await meshctl(['status', '-o', 'json', '--state-dir', stateDir]);
    const table = await meshctl(['status', '--state-dir', stateDir]);
    return { ...(JSON.parse(r.stdout) as StatusJson), code: r.code, table: table.stdout };
  };

  const envoyClusters = async (): Promise<string[]> => dynamicResources(await readConfigDump(envoy?.adminUrl ?? ''), 'clusters').map((c) => c.name);

  it('status shows the components, Pilot ready and the Envoy SYNCED for every type (exit 0)', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const s = await eventually('the Envoy SYNCED in meshctl status', async () => {
      const s = await status();
      const p = s.proxies.find((x) => x.proxy === PROXY_ID);
      return p && ['CDS', 'EDS', 'LDS', 'RDS'].every((k) => p.types[k]?.state === 'SYNCED') && s.code === 0 ? s : undefined;
    });
    assert.equal(s.ok, true);
    assert.equal(s.pilot.ready, true);
    assert.deepEqual(s.components.map((c) => [c.name, c.up]), [['pilot', true], ['sidecar-productpage-v1', true]]);
    assert.match(s.table, /^pilot\s+control-plane\s+\d+\s+UP$/m);
    assert.match(s.table, new RegExp(`^${PROXY_ID.replace(/[.~]/g, '\\$&')}\\s+\\S+\\s+SYNCED\\s+SYNCED`, 'm'));
    assert.match(s.table, /Pilot http:\/\/127\.0\.0\.1:\d+: READY/);
  });

  const reviewsCluster = async (): Promise<Record<string, unknown> | undefined> =>
    dynamicResources(await readConfigDump(envoy?.adminUrl ?? ''), 'clusters').find((c) => c.name === REVIEWS)?.resource;
  const reviewsRoutes = async (): Promise<string> =>
    JSON.stringify(dynamicResources(await readConfigDump(envoy?.adminUrl ?? ''), 'routes').filter((r) => JSON.stringify(r.resource).includes('reviews.default')));

  it("apply of Bookinfo's networking YAML reaches Envoy; proxy-config lists the outbound clusters", async (t) => {
    if (skipReason) return t.skip(skipReason);
    const ONE_CONNECTION = /"max_connections":1\b/;
    assert.doesNotMatch(JSON.stringify((await reviewsCluster())?.circuit_breakers ?? {}), ONE_CONNECTION, 'the task\'s circuit breaker before it was applied');
    assert.ok(!(await reviewsRoutes()).includes(REVIEWS_V1), 'reviews routed to v1 before the task was applied');
    const r = await meshctl(['apply', '-f', join(BOOKINFO, 'networking/virtual-service-all-v1.yaml'), '-f', join(BOOKINFO, 'networking/destination-rule-reviews-circuit-breaker.yaml'), '--state-dir', stateDir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^virtualservice default\/reviews created$/m);
    assert.match(r.stdout, /^destinationrule default\/reviews created \(takes precedence over its definition in destination-rule-all\.yaml\)$/m);
    assert.ok(readdirSync(join(stateDir, 'config')).includes('00-meshctl_destinationrule_default_reviews.yaml'));

    // Pilot obeys: Envoy routes reviews to subset v1 and the reviews cluster has the circuit breaker.
    await eventually('reviews routed to v1 in Envoy', async () => ((await reviewsRoutes()).includes(REVIEWS_V1) ? true : undefined));
    await eventually('the circuit breaker on the reviews cluster in Envoy', async () =>
      ONE_CONNECTION.test(JSON.stringify((await reviewsCluster())?.circuit_breakers ?? {})) ? true : undefined,
    );

    // By proxy id, resolved to Envoy's admin address through the topology file.
    const table = await meshctl(['proxy-config', 'clusters', PROXY_ID, '--state-dir', stateDir]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^NAME\s+TYPE\s+LB\s+SOURCE\s+VERSION$/m);
    assert.match(table.stdout, new RegExp(`^${REVIEWS_V1.replace(/\|/g, '\\|')}\\s+EDS\\s+\\S+\\s+dynamic`, 'm'));
    assert.match(table.stdout, new RegExp(`^${REVIEWS.replace(/\|/g, '\\|')}\\s`, 'm'));
    const json = await meshctl(['proxy-config', 'clusters', `127.0.0.1:${envoy?.adminPort}`, '-o', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const names = (JSON.parse(json.stdout) as { items: { name: string }[] }).items.map((i) => i.name);
    assert.deepEqual(names.filter((n) => n.startsWith('outbound|')).sort(), (await envoyClusters()).filter((n) => n.startsWith('outbound|')).sort());

    const listeners = await meshctl(['proxy-config', 'listeners', PROXY_ID, '--state-dir', stateDir]);
    assert.equal(listeners.code, 0, listeners.stderr);
    assert.match(listeners.stdout, /^0\.0\.0\.0_9080\s+0\.0\.0\.0:9080\s+9080\s+active\s/m);
    assert.doesNotMatch(listeners.stdout, /^127\.0\.0\.1_/m, 'this Envoy was given inbound listeners on fixed ports');

    const routesTable = await meshctl(['proxy-config', 'routes', 'sidecar-productpage-v1', '--state-dir', stateDir]);
    assert.equal(routesTable.code, 0, routesTable.stderr);
    assert.match(routesTable.stdout, new RegExp(`reviews\\.default\\.svc\\.cluster\\.local:9080 .*${REVIEWS_V1.replace(/\|/g, '\\|')}`));

    const again = await meshctl(['apply', '-f', join(BOOKINFO, 'networking/virtual-service-all-v1.yaml'), '--state-dir', stateDir]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^virtualservice default\/reviews unchanged$/m);
  });

  it('delete removes the files, and Envoy is back to the seeded config', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const files = ['virtual-service-all-v1.yaml', 'destination-rule-reviews-circuit-breaker.yaml'].map((f) => join(BOOKINFO, 'networking', f));
    const r = await meshctl(['delete', '-f', files[0] as string, '-f', files[1] as string, '--state-dir', stateDir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^virtualservice default\/reviews deleted$/m);
    assert.match(r.stdout, /^destinationrule default\/reviews deleted \(the definition in destination-rule-all\.yaml applies again\)$/m);
    assert.deepEqual(readdirSync(join(stateDir, 'config')).sort(), ['bookinfo-workloads.yaml', 'destination-rule-all.yaml']);
    await eventually('reviews no longer routed to v1, no circuit breaker', async () =>
      !(await reviewsRoutes()).includes(REVIEWS_V1) && !/"max_connections":1\b/.test(JSON.stringify((await reviewsCluster())?.circuit_breakers ?? {})) ? true : undefined,
    );
    assert.ok((await envoyClusters()).includes(REVIEWS_V1), 'the seeded subsets are gone too');
    const twice = await meshctl(['delete', '-f', files[1] as string, '--state-dir', stateDir]);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /destinationrule default\/reviews not found .*defined in destination-rule-all\.yaml, which meshctl did not write and leaves alone/);
  });

  it('a proxy that NACKs the clusters shows NACKED with its message, and status exits 1', async (t) => {
    if (skipReason) return t.skip(skipReason);
    nacker = openRawAdsStream<Record<string, unknown>, { version_info: string; nonce: string }>(`127.0.0.1:${pilot?.xdsPort}`);
    nacker.send({ node: { id: NACKER_ID, metadata: { NAMESPACE: 'default' } }, type_url: CDS });
    const res = await nacker.next(10_000);
    nacker.send({ type_url: CDS, version_info: '', response_nonce: res.nonce, error_detail: { code: 3, message: 'test: cluster rejected on purpose' } });
    const s = await eventually('NACKED in meshctl status', async () => {
      const s = await status();
      return s.proxies.find((p) => p.proxy === NACKER_ID)?.types.CDS?.state === 'NACKED' ? s : undefined;
    });
    assert.equal(s.code, 1);
    assert.equal(s.ok, false);
    assert.equal(s.proxies.find((p) => p.proxy === NACKER_ID)?.types.CDS?.nack, 'test: cluster rejected on purpose');
    assert.equal(s.proxies.find((p) => p.proxy === PROXY_ID)?.types.CDS?.state, 'SYNCED', 'the healthy Envoy is not affected');
    assert.match(s.table, /NACKED/);
    assert.ok(s.table.includes(`${NACKER_ID} CDS NACKED version ${res.version_info}`), s.table);
    assert.match(s.table, /test: cluster rejected on purpose/);
  });
});
