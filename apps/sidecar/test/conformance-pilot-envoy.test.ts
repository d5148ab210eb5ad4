/**
 * Conformance with Envoy, configured by our Pilot: one config directory (ServiceEntry, WorkloadEntries,
 * DestinationRule subsets, VirtualService, and a Sidecar per client) served by the built Pilot binary to a
 * real Envoy (bound on 127.0.0.1) and to the sidecar (bound on 127.0.0.2, same port). The same requests
 * must give the same statuses, backends, rewrites, redirects, faults, retries and timeouts, and the same
 * 80/20 split within 10 points.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, requireDep, startEnvoy, type EnvoyHandle } from '@mesh/deps';
import { envoyBootstrap } from '@mesh/xds/testing';
import type { Proxy } from '../src/proxy';
import { startBackend, startProxy, waitUntil, type Backend } from './helpers';
import * as http from 'node:http';

const ROOT = path.resolve(__dirname, '../../..');
const PILOT = path.join(ROOT, 'dist/apps/pilot/main.js');
const HOST = 'web.test.svc.cluster.local';
const NAMES = ['v1', 'v2', 'flaky', 'slow'] as const;

function config(port: number, b: Record<string, Backend>): string {
  const entries = NAMES.map((n) => `---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: web-${n}, namespace: test}
spec: {address: 127.0.0.1, ports: {http: ${b[n]?.port}}, labels: {app: web, version: ${n}}}`).join('\n');
  const sidecar = (app: string, bind: string) => `---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: ${app}, namespace: test}
spec:
  workloadSelector: {labels: {app: ${app}}}
  egress:
  - port: {number: ${port}, protocol: HTTP, name: http}
    bind: ${bind}
    captureMode: NONE
    hosts: [test/*]`;
  const to = (subset: string) => `    route: [{destination: {host: ${HOST}, subset: ${subset}}}]\n`;
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: web, namespace: test}
spec:
  hosts: [${HOST}]
  resolution: STATIC
  ports: [{number: ${port}, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: web}}
${entries}
${sidecar('client-envoy', '127.0.0.1')}
${sidecar('client-mesh', '127.0.0.2')}
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
  - match: [{headers: {x-test: {exact: match}}}]
${to('v2')}  - match: [{uri: {prefix: /old}}]
    rewrite: {uri: /new}
${to('v1')}  - match: [{uri: {exact: /go}}]
    redirect: {uri: /gone, authority: elsewhere.example.com}
  - match: [{headers: {x-test: {exact: fault}}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
${to('v1')}  - match: [{headers: {x-test: {exact: retry}}}]
    retries: {attempts: 3, retryOn: 5xx}
${to('flaky')}  - match: [{headers: {x-test: {exact: timeout}}}]
    timeout: 200ms
${to('slow')}  - route:
    - {destination: {host: ${HOST}, subset: v1}, weight: 80}
    - {destination: {host: ${HOST}, subset: v2}, weight: 20}
`;
}

interface Got {
  status: number;
  backend: string;
  url: string;
  location: string;
}

function get(bind: string, port: number, p: string, headers: Record<string, string> = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: bind, port, path: p, headers: { host: HOST, ...headers }, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        let backend = String(res.headers['x-backend'] ?? '');
        let url = '';
        if (res.headers['content-type']?.includes('json')) {
          const j = JSON.parse(body) as { backend: string; url: string };
          backend = j.backend;
          url = j.url;
        }
        resolve({ status: res.statusCode ?? 0, backend, url, location: String(res.headers.location ?? '') });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('conformance with Envoy, both configured by Pilot', () => {
  const backends: Record<string, Backend> = {};
  let pilot: ChildProcess | undefined;
  let envoy: EnvoyHandle | undefined;
  let proxy: Proxy | undefined;
  let port = 0;
  let flakyFailures = 0;
  let skip = false;
  let dir = '';

  before(async (t) => {
    if (!requireDep(t as never, 'envoy')) {
      skip = true;
      return;
    }
    if (!fs.existsSync(PILOT)) execFileSync(process.execPath, [path.join(ROOT, 'tools/build-app.mjs'), 'apps/pilot'], { cwd: ROOT, stdio: 'ignore' });
    for (const n of NAMES) backends[n] = await startBackend(n);
    const flaky = backends.flaky;
    if (flaky) {
      flaky.handler = (_req, res) => {
        if (flakyFailures > 0) {
          flakyFailures--;
          res.writeHead(503, { 'x-backend': 'flaky' }).end();
        } else res.writeHead(200, { 'x-backend': 'flaky' }).end();
      };
    }
    const slow = backends.slow;
    if (slow) {
      slow.handler = (_req, res) => {
        const timer = setTimeout(() => res.writeHead(200, { 'x-backend': 'slow' }).end(), 1000);
        res.once('close', () => clearTimeout(timer));
      };
    }
    port = await freePort('127.0.0.1');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sidecar-pilot-'));
    fs.writeFileSync(path.join(dir, 'web.yaml'), config(port, backends));
    const child = spawn(process.execPath, [PILOT, '--config-dir', dir, '--xds-address', '127.0.0.1:0', '--debug-address', '127.0.0.1:0', '--log-level', 'info'], { stdio: ['ignore', 'ignore', 'pipe'] });
    pilot = child;
    let log = '';
    child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    let xdsPort = 0;
    await waitUntil('pilot listening', () => {
      const m = /"msg":"pilot listening"[^\n]*"xdsPort":(\d+)/.exec(log);
      if (m) xdsPort = Number(m[1]);
      return xdsPort > 0;
    }, 30_000);
    envoy = await startEnvoy({
      config: envoyBootstrap({ nodeId: 'sidecar~127.0.0.1~client-envoy.test~test.svc.cluster.local', xdsPort, metadata: { NAMESPACE: 'test', INTERCEPTION_MODE: 'NONE', LABELS: { app: 'client-envoy' } } }),
      concurrency: 1,
    });
    proxy = await startProxy({ xdsTarget: `127.0.0.1:${xdsPort}`, logName: 'conformance-pilot', nodeId: 'sidecar~127.0.0.2~client-mesh.test~test.svc.cluster.local', namespace: 'test', labels: ['app=client-mesh'], interceptionMode: 'NONE' });
    for (const bind of ['127.0.0.1', '127.0.0.2']) {
      let ok = false;
      await waitUntil(`a proxy on ${bind}:${port}`, () => {
        get(bind, port, '/', { 'x-test': 'match' }).then((r) => (ok = r.status === 200), () => undefined);
        return ok;
      }, 30_000);
    }
  });

  after(async () => {
    await proxy?.stop();
    await envoy?.stop();
    pilot?.kill('SIGTERM');
    for (const b of Object.values(backends)) await b.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const cases: { name: string; path: string; headers?: Record<string, string>; before?: () => void }[] = [
    { name: 'header match to subset v2', path: '/', headers: { 'x-test': 'match' } },
    { name: 'uri prefix rewrite', path: '/old/page' },
    { name: 'redirect with authority', path: '/go' },
    { name: 'fault abort 418', path: '/', headers: { 'x-test': 'fault' } },
    { name: 'retries on 5xx', path: '/', headers: { 'x-test': 'retry' }, before: () => (flakyFailures = 2) },
    { name: 'timeout 504', path: '/', headers: { 'x-test': 'timeout' } },
  ];
  for (const c of cases) {
    it(`same behaviour: ${c.name}`, async (t) => {
      if (skip) return t.skip('envoy not installed');
      c.before?.();
      const viaEnvoy = await get('127.0.0.1', port, c.path, c.headers);
      c.before?.();
      const viaSidecar = await get('127.0.0.2', port, c.path, c.headers);
      assert.deepEqual(viaSidecar, viaEnvoy);
    });
  }

  it('same 80/20 split (each within 10 points over 200 requests)', async (t) => {
    if (skip) return t.skip('envoy not installed');
    for (const bind of ['127.0.0.1', '127.0.0.2']) {
      let v1 = 0;
      for (let i = 0; i < 200; i++) if ((await get(bind, port, '/split')).backend === 'v1') v1++;
      assert.ok(Math.abs(v1 / 200 - 0.8) <= 0.1, `${bind}: v1 got ${v1}/200`);
    }
  });
});
