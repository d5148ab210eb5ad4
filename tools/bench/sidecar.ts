/**
 * npm run bench -- sidecar [--duration 10]
 *
 * The sidecar against Envoy and nginx on this machine, in one run. Upstream: nginx (1 worker) answering a
 * 1 KiB body. Proxies, each with one worker: the sidecar (dist/apps/sidecar/main.js --concurrency 1) and
 * Envoy (--concurrency 1), both configured over ADS by an in-process AdsServer with the same resources,
 * and nginx (1 worker, keep-alive upstream). Measures:
 *  - fortio at 1000 qps with 16 connections (HTTP/1.1), requests spread evenly (fortio -uniform, 50 us
 *    histogram buckets): p50/p90/p99 added over direct, for sidecar, Envoy and nginx; sidecar CPU (vCPU =
 *    CPU seconds / wall seconds, and CPU seconds per 1000 requests) and RSS. The same rate with fortio's
 *    default pacing (all 16 connections in step: bursts of 16 every 16 ms) is reported as
 *    `rate_1000_synchronized`, so the burst case stays visible;
 *  - saturation with 64 connections: wrk (HTTP/1.1) for sidecar, Envoy and nginx; h2load (h2c, 64
 *    clients) for sidecar and Envoy.
 * Last line: one JSON object (see issue 4). `--micro` runs the hot-function microbenchmarks instead.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { freePort, runFortioLoad, runH2load, runWrk, startEnvoy, startNginx, type LoadResult } from '@mesh/deps';
import {
  AdsServer, clusterLoadAssignment, clusterRoute, edsCluster, httpConnectionManager, httpListener, routeConfiguration, Snapshot, TYPE_URL, virtualHost,
} from '@mesh/xds';
import { envoyBootstrap, quietLogger } from '@mesh/xds/testing';
import { runChecked } from '@mesh/deps';
import { runMtlsBench } from './sidecar-mtls';
import { waitHttp } from './lib/processes';

const root = path.resolve(__dirname, '../..');
const args = process.argv.slice(2);
const durationArg = args.indexOf('--duration');
const DURATION = durationArg >= 0 ? Number(args[durationArg + 1]) : 10;
const profileArg = args.indexOf('--cpu-prof-dir');
/** --cpu-prof-dir <dir>: run the sidecar with V8's CPU profiler, profile written there on exit. */
const PROFILE_DIR = profileArg >= 0 ? args[profileArg + 1] : undefined;
/** --only-rate: skip the saturation runs. */
const ONLY_RATE = args.includes('--only-rate');
const SIDECAR_NODE = 'sidecar~127.0.0.1~bench-sidecar.default~default.svc.cluster.local';
const ENVOY_NODE = 'sidecar~127.0.0.1~bench-envoy.default~default.svc.cluster.local';
const CLUSTER = 'outbound|80||upstream.default.svc.cluster.local';

function log(msg: string): void {
  process.stdout.write(`${msg}\n`);
}

function resources(listenPort: number, upstreamPort: number): Snapshot {
  const hcm = httpConnectionManager({ statPrefix: 'bench', routeConfigName: 'bench' });
  return new Snapshot({
    [TYPE_URL.LISTENER]: { version: '1', resources: [httpListener({ name: 'bench', address: '127.0.0.1', port: listenPort, hcm })] },
    [TYPE_URL.ROUTE]: { version: '1', resources: [routeConfiguration('bench', [virtualHost('all', ['*'], [clusterRoute('/', CLUSTER)])])] },
    [TYPE_URL.CLUSTER]: { version: '1', resources: [edsCluster({ name: CLUSTER, connectTimeoutMs: 1000 })] },
    [TYPE_URL.ENDPOINT]: { version: '1', resources: [clusterLoadAssignment(CLUSTER, [{ address: '127.0.0.1', port: upstreamPort }])] },
  });
}

/** utime+stime of a pid in seconds, and its RSS in MB (Linux /proc). */
function procUsage(pid: number): { cpuSec: number; rssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = /VmRSS:\s+(\d+) kB/.exec(status);
  return { cpuSec: ticks / 100, rssMb: rss ? Number(rss[1]) / 1024 : 0 };
}

const round = (n: number, d = 3): number => Math.round(n * 10 ** d) / 10 ** d;

/** --micro: the hot-function microbenchmarks (apps/sidecar/src/bench-hot.ts, mitata) in their own process. */
function micro(): void {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'apps/sidecar/src/bench-hot.ts')], { cwd: root, stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

async function main(): Promise<void> {
  if (args.includes('--micro')) micro();
  const cleanups: (() => Promise<void> | void)[] = [];
  try {
    log(`building the sidecar`);
    await runChecked({ name: 'build sidecar', command: process.execPath, args: [path.join(root, 'tools/build-app.mjs'), 'apps/sidecar'], timeoutMs: 120_000 });
    const body = 'x'.repeat(1024);
    const upstream = await startNginx({ config: `server { listen 127.0.0.1:{{port}}; keepalive_requests 1000000; location / { default_type text/plain; return 200 "${body}"; } }` });
    cleanups.push(() => upstream.stop());
    const nginxProxy = await startNginx({
      config: `upstream up { server 127.0.0.1:${upstream.port}; keepalive 64; }
server { listen 127.0.0.1:{{port}}; keepalive_requests 1000000; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } }`,
    });
    cleanups.push(() => nginxProxy.stop());

    const ads = new AdsServer({ logger: quietLogger() });
    const sidecarPort = await freePort();
    const envoyPort = await freePort();
    ads.setSnapshot(SIDECAR_NODE, resources(sidecarPort, upstream.port));
    ads.setSnapshot(ENVOY_NODE, resources(envoyPort, upstream.port));
    const bound = await ads.listen('127.0.0.1:0');
    cleanups.push(() => bound.close());

    const adminPort = await freePort();
    const sidecar: ChildProcess = spawn(process.execPath, [...(PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []), path.join(root, 'dist/apps/sidecar/main.js'), '--xds-address', `127.0.0.1:${bound.port}`, '--node-id', SIDECAR_NODE, '--namespace', 'default', '--labels', 'app=bench', '--admin-address', `127.0.0.1:${adminPort}`, '--concurrency', '1', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
    cleanups.push(async () => {
      const exited = new Promise((resolve) => sidecar.once('exit', resolve));
      sidecar.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    });
    const envoy = await startEnvoy({ config: envoyBootstrap({ nodeId: ENVOY_NODE, xdsPort: bound.port }), concurrency: 1 });
    cleanups.push(() => envoy.stop());
    await waitHttp(sidecarPort, 'the sidecar listener');
    await waitHttp(envoyPort, 'the Envoy listener');
    await waitHttp(nginxProxy.port, 'the nginx proxy');
    const pid = sidecar.pid ?? 0;

    const fixed = async (name: string, port: number, uniform = true): Promise<LoadResult> => {
      const load = { url: `http://127.0.0.1:${port}/`, qps: 1000, connections: 16, uniform };
      await runFortioLoad({ ...load, durationSec: 2 }); // warm-up
      const r = await runFortioLoad({ ...load, durationSec: DURATION });
      log(`fortio 1000qps/16c${uniform ? ' uniform' : ' synchronized'} ${name}: ${r.requests} req, p50 ${round(r.latencyMs.p50)} ms, p90 ${round(r.latencyMs.p90)} ms, p99 ${round(r.latencyMs.p99)} ms, errors ${r.errors}`);
      return r;
    };
    const direct = await fixed('direct', upstream.port);
    const before = procUsage(pid);
    const t0 = performance.now();
    const viaSidecar = await fixed('sidecar', sidecarPort);
    const wall = (performance.now() - t0) / 1000;
    const after = procUsage(pid);
    const envoyBefore = procUsage(envoy.pid);
    const te0 = performance.now();
    const viaEnvoy = await fixed('envoy', envoyPort);
    const envoyWall = (performance.now() - te0) / 1000;
    const envoyAfter = procUsage(envoy.pid);
    const envoyVcpu = (envoyAfter.cpuSec - envoyBefore.cpuSec) / envoyWall;
    log(`envoy CPU ${round(envoyAfter.cpuSec - envoyBefore.cpuSec)} s over ${round(envoyWall)} s (${round(envoyVcpu)} vCPU), RSS ${round(envoyAfter.rssMb, 1)} MB`);
    const viaNginx = await fixed('nginx', nginxProxy.port);
    // The measured window includes the 2 s warm-up: count its requests too.
    const cpuSec = after.cpuSec - before.cpuSec;
    const reqs = viaSidecar.requests + 2000;
    const vcpu = cpuSec / wall;
    log(`sidecar CPU ${round(cpuSec)} s over ${round(wall)} s (${round(vcpu)} vCPU, ${round((cpuSec / reqs) * 1000, 4)} CPU s per 1000 req), RSS ${round(after.rssMb, 1)} MB`);

    /** A synchronized run with the proxy's vCPU over it (warm-up included, as above). */
    const fixedWithCpu = async (name: string, port: number, proxyPid: number): Promise<{ r: LoadResult; vcpu: number }> => {
      const u0 = procUsage(proxyPid).cpuSec;
      const w0 = performance.now();
      const r = await fixed(name, port, false);
      const v = (procUsage(proxyPid).cpuSec - u0) / ((performance.now() - w0) / 1000);
      log(`${name} CPU at 1000 rps synchronized: ${round(v)} vCPU`);
      return { r, vcpu: v };
    };
    const syncDirect = await fixed('direct', upstream.port, false);
    const syncSidecar = await fixedWithCpu('sidecar', sidecarPort, pid);
    const syncEnvoy = await fixedWithCpu('envoy', envoyPort, envoy.pid);
    const addedOver = (base: LoadResult) => (r: LoadResult) => ({
      p50_ms: round(r.latencyMs.p50 - base.latencyMs.p50),
      p90_ms: round(r.latencyMs.p90 - base.latencyMs.p90),
      p99_ms: round(r.latencyMs.p99 - base.latencyMs.p99),
    });
    const added = addedOver(direct);
    const rate1000Synchronized = {
      sidecar: { ...addedOver(syncDirect)(syncSidecar.r), vcpu: round(syncSidecar.vcpu) },
      envoy: { ...addedOver(syncDirect)(syncEnvoy.r), vcpu: round(syncEnvoy.vcpu) },
    };

    if (ONLY_RATE) {
      process.stdout.write(`${JSON.stringify({ rate_1000: { sidecar: { ...added(viaSidecar), vcpu: round(vcpu), rss_mb: round(after.rssMb, 1) }, envoy: { ...added(viaEnvoy), vcpu: round(envoyVcpu), rss_mb: round(envoyAfter.rssMb, 1) }, nginx: added(viaNginx) }, rate_1000_synchronized: rate1000Synchronized })}\n`);
      return;
    }
    const sat = async (name: string, port: number): Promise<number> => {
      const r = await runWrk({ url: `http://127.0.0.1:${port}/`, connections: 64, threads: 2, durationSec: DURATION });
      log(`wrk 64c ${name}: ${round(r.rps, 0)} req/s, p99 ${round(r.latencyMs.p99)} ms, errors ${r.errors}`);
      return r.rps;
    };
    const h1 = { sidecar: await sat('sidecar', sidecarPort), envoy: await sat('envoy', envoyPort), nginx: await sat('nginx', nginxProxy.port) };
    const h2sat = async (name: string, port: number): Promise<number> => {
      const r = await runH2load({ url: `http://127.0.0.1:${port}/`, clients: 64, streams: 1, durationSec: DURATION, args: ['-t', '2'] });
      log(`h2load 64c ${name}: ${round(r.rps, 0)} req/s, errors ${r.errors}`);
      return r.rps;
    };
    const h2 = { sidecar: await h2sat('sidecar', sidecarPort), envoy: await h2sat('envoy', envoyPort) };
    const rssEnd = procUsage(pid).rssMb;
    // Issue 5: client sidecar -> server sidecar over mutual TLS, and two Envoys for comparison (sidecar-mtls.ts).
    const mtls = await runMtlsBench(DURATION);
    const result = {
      rate_1000: {
        sidecar: { ...added(viaSidecar), vcpu: round(vcpu), cpu_s_per_1000_req: round((cpuSec / reqs) * 1000, 4), rss_mb: round(after.rssMb, 1), rss_mb_after_saturation: round(rssEnd, 1) },
        envoy: { ...added(viaEnvoy), vcpu: round(envoyVcpu), rss_mb: round(envoyAfter.rssMb, 1) },
        nginx: added(viaNginx),
        direct: { p50_ms: round(direct.latencyMs.p50), p90_ms: round(direct.latencyMs.p90), p99_ms: round(direct.latencyMs.p99) },
      },
      rate_1000_synchronized: rate1000Synchronized,
      saturation_h1: { sidecar: round(h1.sidecar, 0), envoy: round(h1.envoy, 0), nginx: round(h1.nginx, 0) },
      saturation_h2: { sidecar: round(h2.sidecar, 0), envoy: round(h2.envoy, 0) },
      ratio_h1_sidecar_over_envoy: round(h1.sidecar / h1.envoy, 3),
      mtls_1000: mtls,
      duration_s: DURATION,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    for (const c of cleanups.reverse()) await c();
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`MESH_ERR_BENCH_SIDECAR: ${err.message}\n`);
    process.exit(1);
  },
);
