/**
 * Delegate VirtualServices (Istio 1.8+): the root's `/api` route delegates to a VirtualService without
 * hosts in another namespace, whose routes are merged under the root's match. A real Envoy routes
 * /api/v1 and /api/v2 (headers added by the root are inherited) to the delegate's destinations
 * (short names resolved in the delegate's namespace); a delegate route outside `/api` (a conflict) and a
 * delegate that points at nothing are left out, so that traffic falls through to the root's default.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { freePort, requireDep, startEnvoy, type EnvoyHandle } from '@mesh/deps';
import { dynamicResources, envoyBootstrap, httpGetText, readConfigDump } from '@mesh/xds/testing';
import type { RunningPilot } from '../src/pilot';
import { startTestPilot, tempConfigDir, writeConfig } from './helpers';
import { startHttpBackend, type HttpBackend } from './http-backends';

const WEB = 'web.test.svc.cluster.local';

function config(port: number, backends: Record<string, HttpBackend>): string {
  const entry = (name: string, ns: string, hostName: string): string => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${hostName}]
  resolution: STATIC
  ports: [{number: ${port}, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, ports: {http: ${backends[name]?.port}}}]
---
`;
  return `${entry('web', 'test', WEB)}${entry('v1', 'team', 'v1.team.svc.cluster.local')}${entry('v2', 'team', 'v2.team.svc.cluster.local')}apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: test}
spec:
  egress: [{port: {number: ${port}, protocol: HTTP, name: http}, bind: 127.0.0.1, captureMode: NONE, hosts: ["*/*"]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: root, namespace: test}
spec:
  hosts: [${WEB}]
  http:
  - name: api
    match: [{uri: {prefix: /api}}]
    headers: {request: {set: {x-root: api}}}
    delegate: {name: api-routes, namespace: team}
  - match: [{uri: {prefix: /ghost}}]
    delegate: {name: nothing-here}
  - route: [{destination: {host: web}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api-routes, namespace: team}
spec:
  exportTo: [test]
  http:
  - name: v1
    match: [{uri: {prefix: /api/v1}}]
    route: [{destination: {host: v1}}]
  - match: [{uri: {prefix: /other}}]
    route: [{destination: {host: v1}}]
  - match: [{uri: {prefix: /api/v2}}, {uri: {exact: /api/two}}]
    route: [{destination: {host: v2}}]
`;
}

describe('Envoy routes by delegate VirtualServices merged under their root', () => {
  let pilot: RunningPilot | undefined;
  let envoy: EnvoyHandle | undefined;
  const backends: Record<string, HttpBackend> = {};
  let port = 0;

  before(async (t) => {
    if (!requireDep(t as never, 'envoy')) return;
    for (const n of ['web', 'v1', 'v2']) backends[n] = await startHttpBackend(n);
    port = await freePort('127.0.0.1');
    const dir = tempConfigDir();
    writeConfig(dir, 'routes.yaml', config(port, backends));
    pilot = await startTestPilot(dir);
    envoy = await startEnvoy({
      config: envoyBootstrap({
        nodeId: 'sidecar~127.0.0.1~client.test~test.svc.cluster.local',
        xdsPort: pilot.xdsPort,
        metadata: { NAMESPACE: 'test', INTERCEPTION_MODE: 'NONE' },
      }),
    });
    for (let i = 0; i < 100; i++) {
      const r = await httpGetText(`http://127.0.0.1:${port}/api/v1`, { host: WEB }).catch(() => undefined);
      if (r?.status === 200 && r.body === 'v1') break;
      await new Promise((res) => setTimeout(res, 100));
    }
  });

  after(async () => {
    await envoy?.stop();
    await pilot?.stop();
    for (const b of Object.values(backends)) await b.stop();
  });

  const served = async (path: string): Promise<string> => {
    const r = await httpGetText(`http://127.0.0.1:${port}${path}`, { host: WEB });
    return `${r.status} ${r.body}`;
  };

  it('sends each delegate match to its destination and the rest to the root default', async (t) => {
    if (!envoy) return t.skip('envoy missing');
    const dump = await readConfigDump(envoy.adminUrl);
    for (const kind of ['listeners', 'clusters', 'routes'] as const) {
      for (const r of dynamicResources(dump, kind)) assert.equal(r.error_state, undefined, `${kind} ${r.name}`);
    }
    assert.equal(await served('/api/v1/items'), '200 v1');
    assert.equal(await served('/api/v2'), '200 v2');
    assert.equal(await served('/api/two'), '200 v2');
    // Under /api but in no delegate match: the merged routes do not cover it.
    assert.equal(await served('/api/v3'), '200 web');
    // The delegate's /other route conflicts with the root's /api: left out, not merged as /other.
    assert.equal(await served('/other'), '200 web');
    // A delegate that points at nothing: its root route is left out.
    assert.equal(await served('/ghost'), '200 web');
  });

  it('inherits the root route\'s header operations and names merged routes root-delegate', async (t) => {
    if (!envoy) return t.skip('envoy missing');
    const v1 = backends.v1 as HttpBackend;
    v1.seen.length = 0;
    assert.equal(await served('/api/v1/x'), '200 v1');
    assert.equal(v1.seen[0]?.headers['x-root'], 'api');
    const dump = await readConfigDump(envoy.adminUrl);
    const rc = dynamicResources(dump, 'routes').find((r) => r.name === String(port));
    const vhosts = (rc?.resource.virtual_hosts ?? []) as { name: string; routes: { name: string }[] }[];
    const names = vhosts.find((v) => v.name === `${WEB}:${port}`)?.routes.map((r) => r.name);
    assert.deepEqual(names, ['api-v1', 'api', 'api', 'route-2']);
  });
});
