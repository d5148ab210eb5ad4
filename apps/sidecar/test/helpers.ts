/**
 * Test helpers for the sidecar: real HTTP backends on loopback that report what they received, a proxy
 * fed by a real in-process AdsServer (@mesh/xds/testing), and a plain HTTP client without connection reuse.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';
import * as net from 'node:net';
import { createLogger } from '@mesh/runtime';
import {
  clusterLoadAssignment, edsCluster, EXTENSION_TYPE_URL, httpConnectionManager, httpListener, Snapshot, TYPE_URL, typedConfig,
  type SnapshotInput,
} from '@mesh/xds';
import { startTestAdsServer, type TestAdsServer } from '@mesh/xds/testing';
import { buildNodeIdentity } from '../src/node-identity';
import { Proxy } from '../src/proxy';

export const NODE_ID = 'sidecar~127.0.0.1~client-1.default~default.svc.cluster.local';

export interface Backend {
  name: string;
  port: number;
  server: http.Server;
  /** requests seen, in order */
  seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[];
  /** set to change the behaviour per request; default answers 200 with JSON */
  handler: ((req: http.IncomingMessage, res: http.ServerResponse, body: string) => void) | undefined;
  close(): Promise<void>;
}

export async function startBackend(name: string): Promise<Backend> {
  const b: Backend = {
    name,
    port: 0,
    server: http.createServer({ maxHeaderSize: 1024 * 1024 }),
    seen: [],
    handler: undefined,
    close: () =>
      new Promise((resolve) => {
        b.server.close(() => resolve());
        b.server.closeAllConnections();
      }),
  };
  b.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      b.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (b.handler) return b.handler(req, res, body);
      const out = JSON.stringify({ backend: name, url: req.url, headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'application/json', 'x-backend': name, 'content-length': Buffer.byteLength(out) });
      res.end(out);
    });
  });
  await new Promise<void>((resolve) => b.server.listen(0, '127.0.0.1', resolve));
  b.port = (b.server.address() as net.AddressInfo).port;
  return b;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function request(port: number, opts: { path?: string; method?: string; headers?: Record<string, string>; body?: string; host?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: opts.path ?? '/', method: opts.method ?? 'GET', headers: { host: opts.host ?? 'svc.local', ...opts.headers }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Everything a scenario needs in one snapshot: listeners, routes, clusters, endpoints. */
export interface Resources {
  listeners?: object[];
  routes?: object[];
  clusters?: object[];
  endpoints?: object[];
}

let version = 0;
export function snapshot(r: Resources): Snapshot {
  const v = String(++version);
  const input: SnapshotInput = {};
  if (r.listeners) input[TYPE_URL.LISTENER] = { version: v, resources: r.listeners };
  if (r.routes) input[TYPE_URL.ROUTE] = { version: v, resources: r.routes };
  if (r.clusters) input[TYPE_URL.CLUSTER] = { version: v, resources: r.clusters };
  if (r.endpoints) input[TYPE_URL.ENDPOINT] = { version: v, resources: r.endpoints };
  return new Snapshot(input);
}

/** An HTTP listener on 127.0.0.1:0 whose routes come from RDS `routeName`, with extra HTTP filters. */
export function listener(name: string, routeName: string, filters: object[] = [], hcmExtra: Record<string, unknown> = {}): object {
  const hcm = { ...httpConnectionManager({ statPrefix: name, routeConfigName: routeName, filters: filters as never }), ...hcmExtra };
  return httpListener({ name, address: '127.0.0.1', port: 0, hcm: hcm as never });
}

/** An EDS cluster plus its endpoints pointing at backends. */
export function cluster(name: string, backends: { port: number; weight?: number }[], extra: Record<string, unknown> = {}): { cluster: object; endpoints: object } {
  return {
    cluster: { ...edsCluster({ name, connectTimeoutMs: 1000 }), ...extra },
    endpoints: clusterLoadAssignment(name, backends.map((b) => ({ address: '127.0.0.1', port: b.port, weight: b.weight }))),
  };
}

export const faultFilterConfig = (): object => ({ name: 'envoy.filters.http.fault', typed_config: typedConfig(EXTENSION_TYPE_URL.FAULT, {}) });
export const corsFilterConfig = (): object => ({ name: 'envoy.filters.http.cors', typed_config: typedConfig(EXTENSION_TYPE_URL.CORS, {}) });

export interface Harness {
  ads: TestAdsServer;
  proxy: Proxy;
  /** push a new snapshot and wait until the proxy applied it */
  push(r: Resources): Promise<void>;
  port(listenerName: string): number;
  stop(): Promise<void>;
}

export async function waitUntil(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * A started in-process sidecar (one worker, no admin unless asked) for tests that run it beside a real
 * Envoy on the same xDS server; the node defaults to NODE_ID with app=client, traffic capture REDIRECT.
 */
export async function startProxy(opts: {
  xdsTarget: string; logName: string; nodeId?: string; namespace?: string; labels?: string[];
  interceptionMode?: string; accessLogPath?: string; admin?: boolean;
}): Promise<Proxy> {
  const built = buildNodeIdentity({
    nodeId: opts.nodeId ?? NODE_ID, namespace: opts.namespace ?? 'default', podName: undefined, instanceIp: undefined, serviceAccount: undefined,
    labels: opts.labels ?? ['app=client'], interceptionMode: opts.interceptionMode ?? 'REDIRECT', clusterId: 'Kubernetes', env: { meta: {}, labelsJson: undefined },
  });
  if (!built.ok) throw new Error(`bad node: ${JSON.stringify(built)}`);
  const proxy = new Proxy({
    node: built.node, xdsTarget: opts.xdsTarget, admin: opts.admin ? { host: '127.0.0.1', port: 0 } : undefined, drainMs: 200,
    accessLogPath: opts.accessLogPath ?? '', concurrency: 1, log: createLogger(opts.logName, 'error'),
  });
  await proxy.start();
  return proxy;
}

/** A proxy connected to a real AdsServer holding `r`; resolves once every listener in `r` is active. */
export async function startHarness(r: Resources, opts: { accessLog?: string } = {}): Promise<Harness> {
  const ads = await startTestAdsServer({ nodeId: NODE_ID, snapshot: snapshot(r) });
  const built = buildNodeIdentity({
    nodeId: NODE_ID, namespace: 'default', podName: undefined, instanceIp: undefined, serviceAccount: 'client', labels: ['app=client', 'version=v1'],
    interceptionMode: 'REDIRECT', clusterId: 'Kubernetes', env: { meta: {}, labelsJson: undefined },
  });
  if (!built.ok) throw new Error('bad node');
  const proxy = new Proxy({
    node: built.node, xdsTarget: ads.address, admin: { host: '127.0.0.1', port: 0 }, drainMs: 500, accessLogPath: opts.accessLog ?? '', concurrency: 1,
    log: createLogger('sidecar-test', process.env.MESH_TEST_LOG === 'debug' ? 'debug' : 'error'),
  });
  await proxy.start();
  let last: Resources = r;
  const h: Harness = {
    ads,
    proxy,
    async push(next) {
      const s = snapshot(next);
      // The server sends only what changed for RDS/EDS (and nothing when nothing changed): wait for those.
      const prev = last;
      const differs = (k: keyof Resources) => next[k] !== undefined && JSON.stringify(next[k]) !== JSON.stringify(prev[k]);
      const diff = { listeners: differs('listeners'), clusters: differs('clusters'), routes: differs('routes'), endpoints: differs('endpoints') };
      const changed = (k: keyof Resources) => diff[k];
      last = next;
      ads.ads.setSnapshot(NODE_ID, s);
      const want = (type: string) => s.version(type);
      await waitUntil('config applied', () =>
        (!changed('listeners') || proxy.store.listeners.version === want(TYPE_URL.LISTENER)) &&
        (!changed('clusters') || proxy.store.clusters.version === want(TYPE_URL.CLUSTER)) &&
        (!changed('routes') || proxy.store.routes.version === want(TYPE_URL.ROUTE)) &&
        (!changed('endpoints') || proxy.store.endpoints.version === want(TYPE_URL.ENDPOINT)));
      await proxy.listeners.settled();
    },
    port(name) {
      const p = proxy.listeners.port(name);
      if (p === undefined) throw new Error(`listener ${name} is not bound`);
      return p;
    },
    async stop() {
      await proxy.stop();
      await ads.stop();
    },
  };
  const names = (r.listeners ?? []).map((l) => (l as { name: string }).name);
  await waitUntil('listeners active', () => names.every((n) => proxy.listeners.port(n) !== undefined) && (!r.routes || proxy.store.routes.version !== '') && (!r.endpoints || proxy.store.endpoints.version !== ''));
  await proxy.listeners.settled();
  return h;
}

/** The admin `/stats` text as name -> value. */
export function statsMap(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const i = line.lastIndexOf(': ');
    if (i > 0) m.set(line.slice(0, i), Number(line.slice(i + 2)));
  }
  return m;
}

/** Connects to a TCP port and resolves with everything received until the peer closes ('' when nothing; 5 s at most). */
export function tcpReceive(port: number): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const s = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => s.destroy(), 5000);
    s.on('data', (d: Buffer) => (out += d.toString()));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

/** The built sidecar binary; tests that need real worker processes start it (build first). */
export const BUILT_SIDECAR = path.resolve(__dirname, '../../../dist/apps/sidecar/main.js');

export interface BuiltSidecar {
  child: ChildProcess;
  adminPort: number;
  /** Everything the process wrote to stderr so far (its JSON log). */
  stderr(): string;
  /** SIGTERM, then SIGKILL after 10 s. */
  stop(): Promise<void>;
}

/**
 * Starts the built binary against an ADS server with `--concurrency workers` and resolves once every
 * worker logged "sidecar started" (20 s at most each wait), with the admin port worker 0 reported.
 */
export async function startBuiltSidecar(xdsPort: number, workers: number, extraArgs: string[] = []): Promise<BuiltSidecar> {
  const child = spawn(
    process.execPath,
    [BUILT_SIDECAR, '--xds-address', `127.0.0.1:${xdsPort}`, '--node-id', NODE_ID, '--namespace', 'default', '--labels', 'app=client,version=v1', '--admin-address', '127.0.0.1:0', '--concurrency', String(workers), '--drain-duration', '1s', ...extraArgs],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  let adminPort = 0;
  try {
    await waitUntil('admin address in the log', () => {
      const m = /"msg":"sidecar started"[^\n]*"admin":"127\.0\.0\.1:(\d+)"/.exec(stderr);
      if (m) adminPort = Number(m[1]);
      return adminPort > 0;
    }, 20_000);
    await waitUntil(`all ${workers} workers started`, () => (stderr.match(/"msg":"sidecar started"/g) ?? []).length >= workers, 20_000);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}; sidecar stderr: ${stderr.slice(-2000)}`);
  }
  return { child, adminPort, stderr: () => stderr, stop };
}

/** Waits (30 s at most) until `GET path` on 127.0.0.1:port answers 200: the listener is up and routed. */
export async function waitFor200(port: number, opts: { path: string; host?: string }): Promise<void> {
  let ok = false;
  await waitUntil(`listener on ${port}`, () => {
    request(port, opts).then((r) => (ok = r.status === 200), () => undefined);
    return ok;
  }, 30_000);
}
