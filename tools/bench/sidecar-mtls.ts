/**
 * npm run bench -- sidecar-mtls [--duration 10] [--cpu-prof-dir DIR]
 *
 * Mutual TLS on the data path, issue 5: client proxy -> server proxy with Istio's ISTIO_MUTUAL (outbound
 * cluster: SDS certificate, ROOTCA, SAN check of the server) and PeerAuthentication STRICT (inbound
 * listener: tls_inspector, a 'tls' filter chain requiring a client certificate), identities issued by
 * the real Citadel binary (dist/apps/citadel/main.js, its own process). Upstream: nginx (1 worker, 1 KiB).
 *  - two sidecars (dist/apps/sidecar/main.js --concurrency 1 each), their node agents enabled by the CLI
 *    flags (--ca-address ...), configuration from an in-process AdsServer;
 *  - two Envoys (--concurrency 1 each), the same resources over ADS, each with its identity over SDS
 *    from a node agent (in this process, on a Unix socket) as mtls-envoy-interop does.
 * fortio at 1000 qps, 16 connections, HTTP/1.1 against the client proxy and against nginx directly:
 * added p50/p90/p99 of the two proxies together, and their CPU (vCPU = CPU seconds of both processes /
 * wall seconds). Last line: {"mtls_1000": {"sidecars": {...}, "envoys": {...}, "direct": {...}}}.
 * `runMtlsBench()` is also called by tools/bench/sidecar.ts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { createLogger } from '@mesh/runtime';
import { freePort, runChecked, runFortioLoad, startEnvoy, startNginx, type LoadResult } from '@mesh/deps';
import {
  AdsServer, clusterLoadAssignment, clusterRoute, downstreamTlsTransportSocket, edsCluster, hcmNetworkFilter, httpConnectionManager, httpListener, istioMutualTlsContext,
  routeConfiguration, sdsSecretConfig, Snapshot, socketListener, TYPE_URL, typedConfig, upstreamTlsTransportSocket, virtualHost,
} from '@mesh/xds';
import { envoyBootstrap, quietLogger } from '@mesh/xds/testing';
import { startCitadel, waitHttp } from './lib/processes';

const root = path.resolve(__dirname, '../..');
const NS = 'bench';
const spiffe = (sa: string): string => `spiffe://cluster.local/ns/${NS}/sa/${sa}`;
const nodeId = (name: string): string => `sidecar~127.0.0.1~${name}-1.${NS}~${NS}.svc.cluster.local`;
const OUTBOUND = `outbound|80||server.${NS}.svc.cluster.local`;
const INBOUND = 'inbound|80||';

function log(msg: string): void {
  process.stdout.write(`${msg}\n`);
}

const round = (n: number, d = 3): number => Math.round(n * 10 ** d) / 10 ** d;

/** utime+stime of a pid in seconds (Linux /proc). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The server side: STRICT (only a 'tls' chain, client certificate required, verified against ROOTCA). */
function serverResources(port: number, upstreamPort: number): Snapshot {
  const chain = {
    name: 'inbound-mtls',
    filter_chain_match: { transport_protocol: 'tls' },
    filters: [hcmNetworkFilter(httpConnectionManager({ statPrefix: 'inbound', routeConfigName: 'inbound' }))],
    transport_socket: downstreamTlsTransportSocket({
      common_tls_context: {
        tls_certificate_sds_secret_configs: [sdsSecretConfig('default')],
        combined_validation_context: { default_validation_context: {}, validation_context_sds_secret_config: sdsSecretConfig('ROOTCA') },
        alpn_protocols: ['h2', 'http/1.1'],
      },
      require_client_certificate: { value: true },
    }),
  };
  const inspector = { name: 'envoy.filters.listener.tls_inspector', typed_config: typedConfig('type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector', {}) };
  return new Snapshot({
    [TYPE_URL.LISTENER]: { version: '1', resources: [socketListener({ name: 'inbound', address: '127.0.0.1', port, filterChains: [chain] as never, direction: 'INBOUND', listenerFilters: [inspector] })] },
    [TYPE_URL.ROUTE]: { version: '1', resources: [routeConfiguration('inbound', [virtualHost('inbound', ['*'], [clusterRoute('/', INBOUND)])])] },
    [TYPE_URL.CLUSTER]: { version: '1', resources: [edsCluster({ name: INBOUND, connectTimeoutMs: 1000 })] },
    [TYPE_URL.ENDPOINT]: { version: '1', resources: [clusterLoadAssignment(INBOUND, [{ address: '127.0.0.1', port: upstreamPort }])] },
  });
}

/** The client side: a plaintext listener for the app, the server's cluster with ISTIO_MUTUAL and its SAN. */
function clientResources(port: number, serverPort: number, serverIdentity: string): Snapshot {
  const hcm = httpConnectionManager({ statPrefix: 'outbound', routeConfigName: 'outbound' });
  const tls = upstreamTlsTransportSocket({ sni: `outbound_.80_._.server.${NS}.svc.cluster.local`, common_tls_context: istioMutualTlsContext({ peerSans: [serverIdentity], alpn: ['istio', 'http/1.1'] }) });
  return new Snapshot({
    [TYPE_URL.LISTENER]: { version: '1', resources: [httpListener({ name: 'outbound', address: '127.0.0.1', port, hcm })] },
    [TYPE_URL.ROUTE]: { version: '1', resources: [routeConfiguration('outbound', [virtualHost('all', ['*'], [clusterRoute('/', OUTBOUND)])])] },
    [TYPE_URL.CLUSTER]: { version: '1', resources: [{ ...edsCluster({ name: OUTBOUND, connectTimeoutMs: 1000 }), transport_socket: tls }] },
    [TYPE_URL.ENDPOINT]: { version: '1', resources: [clusterLoadAssignment(OUTBOUND, [{ address: '127.0.0.1', port: serverPort }])] },
  });
}

/** Envoy's ADS bootstrap plus Istio's `sds-grpc` cluster: HTTP/2 over the node agent's Unix socket. */
function envoyWithSds(node: string, xdsPort: number, sdsSocket: string): object {
  const b = envoyBootstrap({ nodeId: node, xdsPort }) as { static_resources: { clusters: object[] } };
  b.static_resources.clusters.push({
    name: 'sds-grpc',
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: { cluster_name: 'sds-grpc', endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: sdsSocket } } } }] }] },
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
  });
  return b;
}

function issueToken(caDir: string, dir: string, sa: string): string {
  const r = spawnSync(process.execPath, [path.join(root, 'dist/apps/citadel/main.js'), 'issue-token', '--ca-dir', caDir, '--namespace', NS, '--service-account', sa, '--log-level', 'warn'], { encoding: 'utf8' });
  const token = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || token === '') throw new Error(`issue-token for ${sa} failed: ${r.stderr}`);
  const file = path.join(dir, `${sa}.token`);
  writeFileSync(file, token);
  return file;
}

export interface MtlsPairResult {
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  vcpu: number;
  errors: number;
  /** requests fortio completed: below 1000 per second means the proxies did not keep up */
  requests: number;
}

export interface MtlsBenchResult {
  sidecars: MtlsPairResult;
  envoys: MtlsPairResult;
  direct: { p50_ms: number; p90_ms: number; p99_ms: number };
  duration_s: number;
  load_average_1m: number;
}

/**
 * Runs the mTLS comparison (expects dist/apps/sidecar built; builds dist/apps/citadel). Everything
 * started here is stopped before it returns or throws.
 */
export async function runMtlsBench(durationSec: number, profileDir?: string): Promise<MtlsBenchResult> {
  log('building apps/citadel');
  await runChecked({ name: 'build apps/citadel', command: process.execPath, args: [path.join(root, 'tools/build-app.mjs'), 'apps/citadel'], timeoutMs: 120_000 });
  const cleanups: (() => Promise<void> | void)[] = [];
  const dir = mkdtempSync(path.join(tmpdir(), 'sidecar-mtls-bench-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  try {
    const caDir = path.join(dir, 'ca');
    const citadel = await startCitadel(caDir);
    cleanups.push(async () => {
      const exited = new Promise((resolve) => citadel.child.once('exit', resolve));
      citadel.child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    });
    const rootCert = path.join(caDir, 'root-cert.pem');

    const body = 'x'.repeat(1024);
    const upstream = await startNginx({ config: `server { listen 127.0.0.1:{{port}}; keepalive_requests 1000000; location / { default_type text/plain; return 200 "${body}"; } }` });
    cleanups.push(() => upstream.stop());

    const ads = new AdsServer({ logger: quietLogger() });
    const bound = await ads.listen('127.0.0.1:0');
    cleanups.push(() => bound.close());

    // Two sidecars, each with its own node agent (CLI flags), certificates from Citadel.
    const sidecar = async (sa: string, snapshot: Snapshot): Promise<ChildProcess> => {
      const id = nodeId(sa);
      ads.setSnapshot(id, snapshot);
      const args = [
        path.join(root, 'dist/apps/sidecar/main.js'), '--xds-address', `127.0.0.1:${bound.port}`, '--node-id', id, '--namespace', NS, '--service-account', sa, '--labels', `app=${sa}`,
        '--admin-address', '127.0.0.1:0', '--concurrency', '1', '--log-level', 'warn', '--ca-address', citadel.address, '--ca-root-cert', rootCert, '--token-path', issueToken(caDir, dir, sa),
      ];
      const prof = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=sidecar-${sa}.cpuprofile`] : [];
      const child = spawn(process.execPath, [...prof, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
      cleanups.push(async () => {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      });
      return child;
    };
    const sServer = await freePort();
    const sClient = await freePort();
    const serverSidecar = await sidecar('server', serverResources(sServer, upstream.port));
    const clientSidecar = await sidecar('client', clientResources(sClient, sServer, spiffe('server')));

    // Two Envoys, each with its identity over SDS from a node agent in this process.
    const { startNodeAgent } = await import('../../apps/sidecar/src/agent');
    const agentLog = createLogger('bench-agent', 'warn');
    const envoy = async (sa: string, snapshot: Snapshot): Promise<number> => {
      const id = nodeId(sa);
      const home = path.join(dir, sa);
      mkdirSync(home);
      const agent = await startNodeAgent({
        identity: { namespace: NS, serviceAccount: sa },
        caAddress: citadel.address,
        caRootCertPath: rootCert,
        tokenPath: issueToken(caDir, home, sa),
        sdsSocketPath: path.join(home, 'sds.sock'),
        rootCheckIntervalMs: 0,
        logger: agentLog,
      });
      cleanups.push(() => agent.stop());
      ads.setSnapshot(id, snapshot);
      const e = await startEnvoy({ config: envoyWithSds(id, bound.port, agent.sdsSocketPath ?? ''), concurrency: 1 });
      cleanups.push(() => e.stop());
      return e.pid;
    };
    const eServer = await freePort();
    const eClient = await freePort();
    const envoyServer = await envoy('envoy-server', serverResources(eServer, upstream.port));
    const envoyClient = await envoy('envoy-client', clientResources(eClient, eServer, spiffe('envoy-server')));

    await waitHttp(sClient, 'a 200 through the two sidecars over mTLS');
    await waitHttp(eClient, 'a 200 through the two Envoys over mTLS');

    // Requests spread evenly (fortio -uniform), as in sidecar.ts; see FortioLoadOptions.uniform.
    const fixed = async (name: string, port: number, pids: number[]): Promise<{ r: LoadResult; vcpu: number }> => {
      const load = { url: `http://127.0.0.1:${port}/`, qps: 1000, connections: 16, uniform: true };
      await runFortioLoad({ ...load, durationSec: 2 }); // warm-up
      const cpu0 = pids.reduce((n, p) => n + cpuSeconds(p), 0);
      const t0 = performance.now();
      const r = await runFortioLoad({ ...load, durationSec });
      const wall = (performance.now() - t0) / 1000;
      const vcpu = pids.length ? (pids.reduce((n, p) => n + cpuSeconds(p), 0) - cpu0) / wall : 0;
      log(`fortio 1000qps/16c uniform h1 ${name}: ${r.requests} req, p50 ${round(r.latencyMs.p50)} ms, p90 ${round(r.latencyMs.p90)} ms, p99 ${round(r.latencyMs.p99)} ms, errors ${r.errors}${pids.length ? `, ${round(vcpu)} vCPU (both proxies)` : ''}`);
      return { r, vcpu };
    };
    const direct = await fixed('direct', upstream.port, []);
    const viaSidecars = await fixed('sidecar -> sidecar (mTLS)', sClient, [clientSidecar.pid ?? 0, serverSidecar.pid ?? 0]);
    const viaEnvoys = await fixed('envoy -> envoy (mTLS)', eClient, [envoyClient, envoyServer]);
    const added = (x: { r: LoadResult; vcpu: number }): MtlsPairResult => ({
      p50_ms: round(x.r.latencyMs.p50 - direct.r.latencyMs.p50),
      p90_ms: round(x.r.latencyMs.p90 - direct.r.latencyMs.p90),
      p99_ms: round(x.r.latencyMs.p99 - direct.r.latencyMs.p99),
      vcpu: round(x.vcpu),
      errors: x.r.errors,
      requests: x.r.requests,
    });
    return {
      sidecars: added(viaSidecars),
      envoys: added(viaEnvoys),
      direct: { p50_ms: round(direct.r.latencyMs.p50), p90_ms: round(direct.r.latencyMs.p90), p99_ms: round(direct.r.latencyMs.p99) },
      duration_s: durationSec,
      load_average_1m: round(loadavg()[0], 2),
    };
  } finally {
    for (const c of cleanups.reverse()) await c();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const i = args.indexOf('--duration');
  const duration = i >= 0 ? Number(args[i + 1]) : 10;
  const p = args.indexOf('--cpu-prof-dir');
  /** --cpu-prof-dir <dir>: both sidecars run under V8's CPU profiler; profiles written there on exit. */
  const profileDir = p >= 0 ? path.resolve(args[p + 1]) : undefined;
  log('building apps/sidecar');
  await runChecked({ name: 'build apps/sidecar', command: process.execPath, args: [path.join(root, 'tools/build-app.mjs'), 'apps/sidecar'], timeoutMs: 120_000 });
  log(`load average before: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  const result = await runMtlsBench(duration, profileDir);
  process.stdout.write(`${JSON.stringify({ mtls_1000: result })}\n`);
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: Error) => {
      process.stderr.write(`MESH_ERR_BENCH_SIDECAR_MTLS: ${err.message}\n`);
      process.exit(1);
    },
  );
}
