/**
 * Real Envoy, bootstrapped against pilot over ADS (SotW `GRPC` and `DELTA_GRPC`), proxies real HTTP as
 * VirtualService/DestinationRule say: weighted split, header match, rewrite, redirect, fault abort,
 * retries, timeout, mirror. Envoy listens where the Sidecar egress listener (captureMode NONE) says.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { freePort, requireDep, startEnvoy, type EnvoyHandle } from '@mesh/deps';
import { dynamicResources, envoyBootstrap, httpGetText, readConfigDump } from '@mesh/xds/testing';
import type { RunningPilot } from '../src/pilot';
import { startTestPilot, tempConfigDir, writeConfig } from './helpers';
import { startHttpBackend, type HttpBackend } from './http-backends';

const HOST = 'web.test.svc.cluster.local';
const NAMES = ['v1', 'v2', 'flaky', 'slow', 'shadow'] as const;

function config(port: number, backends: Record<string, HttpBackend>): string {
  const entries = NAMES.map(
    (n) => `---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: web-${n}, namespace: test}
spec: {address: 127.0.0.1, ports: {http: ${backends[n]?.port}}, labels: {app: web, version: ${n}}}`,
  ).join('\n');
  const route = (match: string, body: string): string => `  - match: [${match}]\n${body}`;
  const to = (subset: string): string => `    route: [{destination: {host: ${HOST}, subset: ${subset}}}]\n`;
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: web, namespace: test}
spec:
  hosts: [${HOST}]
  resolution: STATIC
  ports: [{number: ${port}, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: web}}
${entries}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: client, namespace: test}
spec:
  workloadSelector: {labels: {app: client}}
  egress:
  - port: {number: ${port}, protocol: HTTP, name: http}
    bind: 127.0.0.1
    captureMode: NONE
    hosts: [test/*]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: test}
spec:
  host: ${HOST}
  subsets: [${NAMES.map((n) => `{name: ${n}, labels: {version: ${n}}}`).join(', ')}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: test}
spec:
  hosts: [${HOST}]
  http:
${route('{headers: {x-test: {exact: match}}}', to('v2'))}${route('{uri: {prefix: /old}}', `    rewrite: {uri: /new}\n${to('v1')}`)}${route('{uri: {exact: /go}}', '    redirect: {uri: /gone, authority: elsewhere.example.com}\n')}${route('{headers: {x-test: {exact: fault}}}', `    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}\n${to('v1')}`)}${route('{headers: {x-test: {exact: retry}}}', `    retries: {attempts: 3, retryOn: 5xx}\n${to('flaky')}`)}${route('{headers: {x-test: {exact: timeout}}}', `    timeout: 200ms\n${to('slow')}`)}${route('{headers: {x-test: {exact: mirror}}}', `    mirror: {host: ${HOST}, subset: shadow}\n    mirrorPercentage: {value: 100}\n${to('v1')}`)}  - route:
    - {destination: {host: ${HOST}, subset: v1}, weight: 80}
    - {destination: {host: ${HOST}, subset: v2}, weight: 20}
`;
}

for (const mode of ['GRPC', 'DELTA_GRPC'] as const) {
  describe(`Envoy over ADS ${mode} proxies HTTP as pilot says`, () => {
    let pilot: RunningPilot | undefined;
    let envoy: EnvoyHandle | undefined;
    let port = 0;
    const backends: Record<string, HttpBackend> = {};
    let skipped = false;

    before(async (t) => {
      if (!requireDep(t as never, 'envoy')) {
        skipped = true;
        return;
      }
      for (const n of NAMES) backends[n] = await startHttpBackend(n);
      port = await freePort('127.0.0.1');
      const dir = tempConfigDir();
      writeConfig(dir, 'web.yaml', config(port, backends));
      pilot = await startTestPilot(dir);
      envoy = await startEnvoy({
        config: envoyBootstrap({
          nodeId: `sidecar~127.0.0.1~client-envoy.test~test.svc.cluster.local`,
          xdsPort: pilot.xdsPort,
          mode,
          metadata: { NAMESPACE: 'test', INTERCEPTION_MODE: 'NONE', LABELS: { app: 'client' } },
        }),
      });
      // Bounded wait for the listener to carry traffic.
      for (let i = 0; i < 100; i++) {
        const r = await get('/').catch(() => undefined);
        if (r?.status === 200) break;
        await new Promise((res) => setTimeout(res, 100));
      }
    });

    after(async () => {
      await envoy?.stop();
      await pilot?.stop();
      await Promise.all(Object.values(backends).map((b) => b.stop()));
    });

    function get(path: string, headers: Record<string, string> = {}): ReturnType<typeof httpGetText> {
      return httpGetText(`http://127.0.0.1:${port}${path}`, { host: HOST, ...headers });
    }

    it('applies every resource without error_state', async (t) => {
      if (skipped || !envoy) return t.skip('envoy missing');
      const dump = await readConfigDump(envoy.adminUrl);
      for (const kind of ['listeners', 'clusters', 'routes'] as const) {
        const resources = dynamicResources(dump, kind);
        assert.ok(resources.length > 0, `no ${kind}`);
        for (const r of resources) assert.equal(r.error_state, undefined, `${kind} ${r.name}: ${JSON.stringify(r.error_state)}`);
      }
      const listeners = dynamicResources(dump, 'listeners').map((l) => l.name);
      assert.deepEqual(listeners, [`127.0.0.1_${port}`]);
      const clusters = dynamicResources(dump, 'clusters').map((c) => c.name);
      assert.ok(clusters.includes(`outbound|${port}|v2|${HOST}`), clusters.join());
    });

    it('splits 80/20 and routes a header match to its subset', async (t) => {
      if (skipped) return t.skip('envoy missing');
      const counts: Record<string, number> = {};
      for (let i = 0; i < 200; i++) {
        const r = await get('/split');
        counts[r.body] = (counts[r.body] ?? 0) + 1;
      }
      assert.equal((counts.v1 ?? 0) + (counts.v2 ?? 0), 200, JSON.stringify(counts));
      assert.ok(Math.abs((counts.v1 ?? 0) / 2 - 80) <= 10, `v1 got ${(counts.v1 ?? 0) / 2}% (want 80 ±10)`);
      for (let i = 0; i < 10; i++) assert.equal((await get('/', { 'x-test': 'match' })).body, 'v2');
    });

    it('rewrites and redirects', async (t) => {
      if (skipped) return t.skip('envoy missing');
      const before = backends.v1?.seen.length ?? 0;
      const r = await get('/old/page');
      assert.equal(r.body, 'v1');
      assert.equal(backends.v1?.seen[before]?.path, '/new/page');
      const redirect = await get('/go');
      assert.equal(redirect.status, 301);
      assert.equal(redirect.headers.location, `http://elsewhere.example.com/gone`);
    });

    it('aborts with the fault status, retries 5xx, times out', async (t) => {
      if (skipped) return t.skip('envoy missing');
      assert.equal((await get('/', { 'x-test': 'fault' })).status, 418);
      const flaky = backends.flaky as HttpBackend;
      flaky.failNext = 2;
      const calls = flaky.seen.length;
      const r = await get('/', { 'x-test': 'retry' });
      assert.equal(r.status, 200);
      assert.equal(r.body, 'flaky');
      assert.equal(flaky.seen.length - calls, 3, 'two 503s then a success');
      (backends.slow as HttpBackend).delayMs = 3000;
      const start = Date.now();
      const slow = await get('/', { 'x-test': 'timeout' });
      assert.equal(slow.status, 504);
      assert.ok(Date.now() - start < 2900, `answered after ${Date.now() - start} ms, before the backend's 3 s reply`);
    });

    it('mirrors traffic to the shadow subset', async (t) => {
      if (skipped) return t.skip('envoy missing');
      const shadow = backends.shadow as HttpBackend;
      const before = shadow.seen.length;
      for (let i = 0; i < 5; i++) assert.equal((await get('/m', { 'x-test': 'mirror' })).body, 'v1');
      for (let i = 0; i < 50 && shadow.seen.length - before < 5; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(shadow.seen.length - before, 5);
      assert.match(shadow.seen[before]?.host ?? '', /-shadow/);
    });
  });
}
