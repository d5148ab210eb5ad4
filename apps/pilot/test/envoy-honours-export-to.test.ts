/**
 * exportTo, as Istio: two real Envoys in namespaces `a` and `b` get only what is exported to their
 * namespace. A ServiceEntry exported to "." exists only for `a`; a VirtualService exported to "."
 * redirects `shared` to `other` only for `a`; a DestinationRule exported to "." gives its subset cluster
 * only to `a`. `b`'s Sidecar imports hosts in the `a/host` form: only the hosts it names.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { freePort, requireDep, startEnvoy, type EnvoyHandle } from '@mesh/deps';
import { dynamicResources, envoyBootstrap, httpGetText, readConfigDump } from '@mesh/xds/testing';
import type { RunningPilot } from '../src/pilot';
import { startTestPilot, tempConfigDir, writeConfig } from './helpers';
import { startHttpBackend, type HttpBackend } from './http-backends';

const host = (name: string): string => `${name}.a.svc.cluster.local`;

function config(pa: number, pb: number, backends: Record<string, HttpBackend>, exportTo: Record<string, string>): string {
  const entry = (name: string): string => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: a}
spec:
  hosts: [${host(name)}]
  exportTo: ${exportTo[name] ?? '["*"]'}
  resolution: STATIC
  ports: [{number: ${pa}, name: http-a, protocol: HTTP}, {number: ${pb}, name: http-b, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, ports: {http-a: ${backends[name]?.port}, http-b: ${backends[name]?.port}}, labels: {app: ${name}}}]
---
`;
  return `${entry('web')}${entry('shared')}${entry('other')}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shared-to-other, namespace: a}
spec:
  hosts: [${host('shared')}]
  exportTo: ["."]
  http: [{route: [{destination: {host: other}}]}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: shared, namespace: a}
spec:
  host: ${host('shared')}
  exportTo: ["."]
  subsets: [{name: only-a, labels: {app: shared}}]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: a}
spec:
  egress: [{port: {number: ${pa}, protocol: HTTP, name: http-a}, bind: 127.0.0.1, captureMode: NONE, hosts: ["./*"]}]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: b}
spec:
  egress: [{port: {number: ${pb}, protocol: HTTP, name: http-b}, bind: 127.0.0.1, captureMode: NONE, hosts: ["a/${host('shared')}", "a/${host('web')}"]}]
`;
}

function get(port: number, hostHeader: string): Promise<{ status: number; body: string }> {
  return httpGetText(`http://127.0.0.1:${port}/`, { host: hostHeader }).then(
    (r) => ({ status: r.status, body: r.body }),
    (err: Error) => ({ status: 0, body: err.message }),
  );
}

describe('exportTo and Sidecar egress hosts decide what each namespace sees', () => {
  let pilot: RunningPilot | undefined;
  const envoys: Record<string, EnvoyHandle> = {};
  const backends: Record<string, HttpBackend> = {};
  let pa = 0;
  let pb = 0;
  let dir = '';

  before(async (t) => {
    if (!requireDep(t as never, 'envoy')) return;
    for (const n of ['web', 'shared', 'other']) backends[n] = await startHttpBackend(n);
    pa = await freePort('127.0.0.1');
    pb = await freePort('127.0.0.1');
    dir = tempConfigDir();
    writeConfig(dir, 'mesh.yaml', config(pa, pb, backends, { web: '["."]' }));
    pilot = await startTestPilot(dir);
    for (const ns of ['a', 'b']) {
      envoys[ns] = await startEnvoy({
        config: envoyBootstrap({
          nodeId: `sidecar~127.0.0.1~client.${ns}~${ns}.svc.cluster.local`,
          xdsPort: pilot.xdsPort,
          metadata: { NAMESPACE: ns, INTERCEPTION_MODE: 'NONE', LABELS: { app: 'client' } },
        }),
      });
    }
    for (let i = 0; i < 100; i++) {
      const [x, y] = await Promise.all([get(pa, host('shared')), get(pb, host('shared'))]);
      if (x.status === 200 && y.status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    for (const e of Object.values(envoys)) await e.stop();
    await pilot?.stop();
    for (const b of Object.values(backends)) await b.stop();
  });

  it('gives each namespace only the clusters exported to it, with no rejected resources', async (t) => {
    if (!pilot) return t.skip('envoy missing');
    const clusters: Record<string, string[]> = {};
    for (const ns of ['a', 'b']) {
      const dump = await readConfigDump((envoys[ns] as EnvoyHandle).adminUrl);
      for (const kind of ['listeners', 'clusters', 'routes'] as const) {
        for (const r of dynamicResources(dump, kind)) assert.equal(r.error_state, undefined, `${ns} ${kind} ${r.name}`);
      }
      clusters[ns] = dynamicResources(dump, 'clusters').map((c) => c.name).sort();
    }
    const a = clusters.a ?? [];
    const b = clusters.b ?? [];
    assert.ok(a.includes(`outbound|${pa}||${host('web')}`), a.join(' '));
    assert.ok(a.includes(`outbound|${pa}|only-a|${host('shared')}`), a.join(' '));
    assert.ok(a.includes(`outbound|${pa}||${host('other')}`), a.join(' '));
    // web is exported to "." (a only); other is exported but b's Sidecar does not import it; the DR is a's.
    assert.deepEqual(b.filter((n) => n.startsWith('outbound|')), [`outbound|${pa}||${host('shared')}`, `outbound|${pb}||${host('shared')}`].sort());
  });

  it('routes by the VirtualServices exported to the proxy namespace', async (t) => {
    if (!pilot) return t.skip('envoy missing');
    assert.deepEqual(await get(pa, host('shared')), { status: 200, body: 'other' });
    assert.deepEqual(await get(pb, host('shared')), { status: 200, body: 'shared' });
    assert.deepEqual(await get(pa, host('web')), { status: 200, body: 'web' });
    assert.equal((await get(pb, host('web'))).status, 404);
  });

  it('follows an exportTo change: web exported to b appears there', async (t) => {
    if (!pilot) return t.skip('envoy missing');
    writeConfig(dir, 'mesh.yaml', config(pa, pb, backends, { web: '[".", "b"]' }));
    let last = { status: 0, body: '' };
    for (let i = 0; i < 100 && last.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      last = await get(pb, host('web'));
    }
    assert.deepEqual(last, { status: 200, body: 'web' });
  });
});
