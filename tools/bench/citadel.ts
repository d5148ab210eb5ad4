/**
 * npm run bench -- citadel [--seconds 6] [--concurrency 16] [--latency-concurrency 4] [--rate 500] [--rate-seconds 10]
 *                           [--only-rate] [--main path/to/citadel/main.js] [--cpu-prof-dir DIR]
 *
 * Certificates per second over gRPC (TLS, one HTTP/2 channel) from the built citadel binary
 * (dist/apps/citadel/main.js, its own process) for ECDSA P-256 and RSA 2048 CSRs, and issue latency.
 * CSRs and keys are generated before the timed part. Phases: a closed loop with `concurrency` requests
 * in flight per key type (saturated throughput: `ecdsa_per_s`, `rsa_per_s`), `latency-concurrency` in
 * flight for ECDSA, then the headline latency: an open loop offering `rate` ECDSA CSRs per second for
 * `rate-seconds` (from a lean node:http2 gRPC client, to keep the generator's CPU low), p99 counted from
 * when each request was due (`p99_ms`). Also times the CA's stages in-process (CSR parse+verify, forge encoding, signature)
 * and, for comparison, node-forge's own pure-JS RSA signature. Bounded: each phase stops after
 * `seconds` or 200,000 requests. Last line: {"ecdsa_per_s","rsa_per_s","p99_ms",...}.
 * --only-rate runs only the open loops (and a short warm-up), without the in-process stage timings;
 * --main runs another build of citadel instead of building this checkout's (A/B: copy dist/apps/citadel
 * aside before a change, then run old and new alternately in the same time window).
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as http2 from 'node:http2';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import forge from 'node-forge';
import { startCitadel } from './lib/processes';
import { createCaClient, createCsr, generateWorkloadKey, type CaClient, type WorkloadKeyKind } from '@mesh/xds';

const ROOT = path.resolve(__dirname, '../..');
const args = process.argv.slice(2);
function arg(name: string, def: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
}
const SECONDS = arg('seconds', 6);
const CONCURRENCY = arg('concurrency', 16);
const LATENCY_CONCURRENCY = arg('latency-concurrency', 4);
const RATE = arg('rate', 500);
const RATE_SECONDS = arg('rate-seconds', 10);
const MAX_REQUESTS = 200_000;
const profileArg = args.indexOf('--cpu-prof-dir');
/** --cpu-prof-dir <dir>: run citadel under V8's CPU profiler; one profile per CA written there on exit. */
const PROFILE_DIR = profileArg >= 0 ? path.resolve(args[profileArg + 1]) : undefined;
const ONLY_RATE = args.includes('--only-rate');
const mainArg = args.indexOf('--main');
/** --main <file>: the citadel build to run (no build step); default: build this checkout's. */
const CITADEL_MAIN = mainArg >= 0 ? path.resolve(args[mainArg + 1]) : undefined;

/** CPU seconds a process has used so far, user and system (Linux /proc). */
function cpuTimes(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
}

function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.system;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

interface PhaseResult {
  count: number;
  errors: number;
  perSecond: number;
  p50: number;
  p99: number;
  /** CPU time of the citadel process per issued certificate (µs): what load disturbs least */
  serverCpuUs: number;
}

async function phase(client: CaClient, token: string, csrs: string[], concurrency: number, seconds: number, pid: number): Promise<PhaseResult> {
  const cpu0 = cpuSeconds(pid);
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline && latencies.length + errors < MAX_REQUESTS) {
      const csrPem = csrs[next++ % csrs.length];
      const t0 = performance.now();
      try {
        await client.requestCertificate({ token, csrPem });
        latencies.push(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const serverCpuUs = ((cpuSeconds(pid) - cpu0) * 1e6) / Math.max(1, latencies.length);
  return { count: latencies.length, errors, perSecond: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), serverCpuUs };
}

/** One IstioCertificateRequest (csr = 1; validity 0 = the CA's default) in a gRPC length-prefixed frame. */
function grpcFrame(csrPem: string): Buffer {
  const csr = Buffer.from(csrPem);
  const len: number[] = [];
  for (let n = csr.length; ; n >>>= 7) {
    if (n < 0x80) {
      len.push(n);
      break;
    }
    len.push((n & 0x7f) | 0x80);
  }
  const message = Buffer.concat([Buffer.from([0x0a, ...len]), csr]);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/**
 * The open loop's client: the same gRPC call on the wire (HTTP/2 over TLS, application/grpc, bearer
 * token, grpc-timeout) from node:http2 with each request frame encoded once. The load generator shares
 * the 2 cores with citadel; grpc-js costs ~0.5 ms of CPU per call, this a fraction of it, so the latency
 * measured is more citadel's and less the generator's. A call succeeds on grpc-status 0 with a body.
 */
function leanCaClient(address: string, rootCertPem: string, token: string): { request(frame: Buffer): Promise<void>; close(): void } {
  const session = http2.connect(`https://${address}`, { ca: rootCertPem });
  session.on('error', () => undefined);
  const headers = {
    ':method': 'POST',
    ':path': '/istio.v1.auth.IstioCertificateService/CreateCertificate',
    'content-type': 'application/grpc',
    te: 'trailers',
    authorization: `Bearer ${token}`,
    'grpc-timeout': '10S',
  };
  return {
    request(frame) {
      return new Promise((resolve, reject) => {
        const stream = session.request(headers);
        let bytes = 0;
        let status: string | undefined;
        stream.on('response', (h) => {
          if (h['grpc-status'] !== undefined) status = String(h['grpc-status']); // trailers-only reply
        });
        stream.on('trailers', (t) => {
          status = String(t['grpc-status'] ?? '');
        });
        stream.on('data', (d: Buffer) => {
          bytes += d.length;
        });
        stream.on('error', reject);
        stream.on('close', () => (status === '0' && bytes > 5 ? resolve() : reject(new Error(`grpc-status ${status ?? 'none'}`))));
        stream.end(frame);
      });
    },
    close() {
      session.close();
    },
  };
}

/**
 * Open loop at a fixed offered rate: request i is due at start + i/rate, sent when due whatever is still
 * in flight, and its latency counts from when it was due (so a stalled server cannot hide its queue by
 * slowing the sender down). Bounded by `seconds` and by rate * seconds requests.
 */
async function openLoop(
  send: (i: number) => Promise<unknown>,
  rate: number,
  seconds: number,
  pid: number,
): Promise<PhaseResult & { offered: number; maxInFlight: number; lateSendMs: number; clientCpuUs: number; serverSystemCpuUs: number }> {
  const cpu0 = cpuTimes(pid);
  const clientCpu0 = process.cpuUsage();
  const total = Math.round(rate * seconds);
  const latencies: number[] = [];
  let errors = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let lateSendMs = 0;
  const pending: Promise<void>[] = [];
  const started = performance.now();
  const one = async (i: number): Promise<void> => {
    const due = started + (i * 1000) / rate;
    lateSendMs = Math.max(lateSendMs, performance.now() - due);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      await send(i);
      latencies.push(performance.now() - due);
    } catch {
      // A failed request never got its certificate: it counts as slower than any success.
      errors++;
      latencies.push(Number.POSITIVE_INFINITY);
    } finally {
      inFlight--;
    }
  };
  while (pending.length < total && performance.now() - started < seconds * 1000 + 1000) {
    const dueNow = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
    while (pending.length < dueNow) pending.push(one(pending.length));
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const ok = latencies.length - errors;
  const cpu1 = cpuTimes(pid);
  const serverCpuUs = ((cpu1.user + cpu1.system - cpu0.user - cpu0.system) * 1e6) / Math.max(1, ok);
  const serverSystemCpuUs = ((cpu1.system - cpu0.system) * 1e6) / Math.max(1, ok);
  const c = process.cpuUsage(clientCpu0);
  const clientCpuUs = (c.user + c.system) / Math.max(1, ok);
  return {
    count: ok,
    errors,
    perSecond: ok / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    serverCpuUs,
    serverSystemCpuUs,
    offered: pending.length / seconds,
    maxInFlight,
    lateSendMs,
    clientCpuUs,
  };
}

async function csrsFor(kind: WorkloadKeyKind, count: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const { privateKey } = await generateWorkloadKey(kind);
    out.push(createCsr({ privateKey, uris: ['spiffe://cluster.local/ns/bench/sa/load'] }));
  }
  return out;
}

/** Microseconds per operation of the CA's stages, in this process, for the profile. */
async function stages(ecdsaCsr: string, rsaCsr: string): Promise<Record<string, number>> {
  const { parseCsr } = await import('../../apps/citadel/src/csr-validate');
  const { buildCertificate, EMPTY_NAME, leafExtensions, organizationName } = await import('../../apps/citadel/src/cert-build');
  const { FileSigner } = await import('../../apps/citadel/src/signer-file');
  const { privateKey } = await generateWorkloadKey('rsa-2048');
  const signer = new FileSigner(privateKey);
  const time = async (n: number, fn: () => unknown): Promise<number> => {
    for (let i = 0; i < Math.min(20, n); i++) await fn();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await fn();
    return Math.round(((performance.now() - t0) / n) * 1000);
  };
  const parsed = await parseCsr(ecdsaCsr);
  const tbsOnly = { algorithmIdentifier: signer.algorithmIdentifier, publicKey: signer.publicKey, description: 'noop', sign: async () => Buffer.alloc(256) };
  const spec = {
    notBefore: new Date(),
    notAfter: new Date(Date.now() + 86_400_000),
    issuerName: organizationName('cluster.local'),
    subjectName: EMPTY_NAME,
    spki: parsed.spki,
    extensions: leafExtensions({ uris: ['spiffe://cluster.local/ns/bench/sa/load'], authorityKeyId: Buffer.alloc(20, 1) }),
  };
  const forgeKey = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString());
  return {
    parse_verify_ecdsa_csr_us: await time(2000, () => parseCsr(ecdsaCsr)),
    parse_verify_rsa_csr_us: await time(2000, () => parseCsr(rsaCsr)),
    forge_encode_certificate_us: await time(2000, () => buildCertificate(spec, tbsOnly)),
    node_crypto_rsa2048_sign_us: await time(500, () => signer.sign(Buffer.alloc(600, 7))),
    forge_pure_js_rsa2048_sign_us: await time(20, () => {
      const md = forge.md.sha256.create();
      md.update('x'.repeat(600));
      return forgeKey.sign(md);
    }),
  };
}

interface CaRun {
  /** Closed loops; absent with --only-rate. */
  ecdsa?: PhaseResult;
  rsa?: PhaseResult;
  latency?: PhaseResult;
  atRate: Awaited<ReturnType<typeof openLoop>>;
}

function closedLoopLine(caKeyType: string, what: string, inFlight: number, p: PhaseResult): string {
  return `CA ${caKeyType}: ${what}, ${inFlight} in flight: ${p.perSecond.toFixed(0)} certs/s, p50 ${p.p50.toFixed(2)} ms, p99 ${p.p99.toFixed(2)} ms, ${p.count} ok, ${p.errors} errors, server ${p.serverCpuUs.toFixed(0)} µs CPU/cert`;
}

/** One citadel process with a fresh CA of the given key type; throughput and latency phases. */
async function runWithCa(caKeyType: string, ecdsa: string[], rsa: string[]): Promise<CaRun> {
  const dir = mkdtempSync(path.join(tmpdir(), 'citadel-bench-'));
  const { child, grpcPort } = await startCitadel(dir, {
    args: ['--ca-key-type', caKeyType],
    nodeArgs: PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR] : [],
    main: CITADEL_MAIN,
  });
  const pid = child.pid ?? 0;
  try {
    const tokenRun = spawnSync(process.execPath, [CITADEL_MAIN ?? path.join(ROOT, 'dist/apps/citadel/main.js'), 'issue-token', '--ca-dir', dir, '--namespace', 'bench', '--service-account', 'load', '--log-level', 'warn'], { encoding: 'utf8' });
    const token = tokenRun.stdout.trim().split('\n').pop() ?? '';
    // The serving certificate names localhost (and 127.0.0.1); a TLS server name must not be an IP
    // address (RFC 6066; Node warns with DEP0123 when grpc-js sends the target's IP as one).
    const client = createCaClient({ address: `127.0.0.1:${grpcPort}`, serverName: 'localhost', rootCertPem: readFileSync(path.join(dir, 'root-cert.pem'), 'utf8') });
    const run: Partial<CaRun> = {};
    try {
      await phase(client, token, ecdsa, CONCURRENCY, 1, pid); // warm-up: JIT, TLS, HTTP/2 channel
      if (!ONLY_RATE) {
        run.ecdsa = await phase(client, token, ecdsa, CONCURRENCY, SECONDS, pid);
        console.log(closedLoopLine(caKeyType, 'ECDSA P-256 CSRs', CONCURRENCY, run.ecdsa));
        run.rsa = await phase(client, token, rsa, CONCURRENCY, SECONDS, pid);
        console.log(closedLoopLine(caKeyType, 'RSA 2048 CSRs,   ', CONCURRENCY, run.rsa));
        run.latency = await phase(client, token, ecdsa, LATENCY_CONCURRENCY, SECONDS, pid);
        console.log(closedLoopLine(caKeyType, 'ECDSA P-256 CSRs', LATENCY_CONCURRENCY, run.latency));
      }
      const lean = leanCaClient(`127.0.0.1:${grpcPort}`, readFileSync(path.join(dir, 'root-cert.pem'), 'utf8'), token);
      const frames = ecdsa.map(grpcFrame);
      let o: Awaited<ReturnType<typeof openLoop>>;
      try {
        await lean.request(frames[0]); // connected before the clock starts
        o = await openLoop((i) => lean.request(frames[i % frames.length]), RATE, RATE_SECONDS, pid);
      } finally {
        lean.close();
      }
      console.log(
        `CA ${caKeyType}: ECDSA P-256 CSRs, open loop at ${RATE}/s for ${RATE_SECONDS} s: ${o.count} ok, ${o.errors} errors, p50 ${o.p50.toFixed(2)} ms, p99 ${o.p99.toFixed(2)} ms (from when each request was due), max ${o.maxInFlight} in flight, sender up to ${o.lateSendMs.toFixed(1)} ms late, server ${o.serverCpuUs.toFixed(0)} µs CPU/cert (${o.serverSystemCpuUs.toFixed(0)} of it system), load generator ${o.clientCpuUs.toFixed(0)} µs CPU/cert`,
      );
      return { ...run, atRate: o };
    } finally {
      client.close();
    }
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (!CITADEL_MAIN) {
    const built = spawnSync(process.execPath, [path.join(ROOT, 'tools/build-app.mjs'), 'apps/citadel'], { stdio: 'inherit' });
    if (built.status !== 0) throw new Error('build failed');
  }
  console.log(`load average before: ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${cpus().length} cpus; citadel: ${CITADEL_MAIN ?? 'dist/apps/citadel/main.js (built now)'}`);
  console.log('generating CSRs (outside the timed part)...');
  const ecdsa = await csrsFor('ec-p256', 200);
  const rsa = await csrsFor('rsa-2048', 20);
  const rsaCa = await runWithCa('rsa-2048', ecdsa, rsa);
  const ecCa = await runWithCa('ec-p256', ecdsa, rsa);
  const profile = ONLY_RATE ? {} : await stages(ecdsa[0], rsa[0]);
  if (!ONLY_RATE) console.log(`stages (us/op, in-process): ${JSON.stringify(profile)}`);
  // A percentile that fell on a failed request is not a number of milliseconds: null in the JSON.
  const round = (x: number | undefined): number | null => (x !== undefined && Number.isFinite(x) ? Number(x.toFixed(2)) : null);
  const whole = (x: number | undefined): number | null => (x === undefined ? null : Math.round(x));
  const closedErrors = (c: CaRun): number => (c.ecdsa?.errors ?? 0) + (c.rsa?.errors ?? 0) + (c.latency?.errors ?? 0);
  console.log(
    JSON.stringify({
      ecdsa_per_s: whole(rsaCa.ecdsa?.perSecond),
      rsa_per_s: whole(rsaCa.rsa?.perSecond),
      p99_ms: round(rsaCa.atRate.p99),
      ca_key: 'rsa-2048 (default)',
      p99_offered_per_s: RATE,
      open_loop_client: 'node:http2, pre-encoded gRPC frames',
      p50_ms_at_rate: round(rsaCa.atRate.p50),
      max_in_flight_at_rate: rsaCa.atRate.maxInFlight,
      server_cpu_us_per_cert_at_rate: Math.round(rsaCa.atRate.serverCpuUs),
      server_system_cpu_us_per_cert_at_rate: Math.round(rsaCa.atRate.serverSystemCpuUs),
      server_cpu_us_per_cert_saturated: whole(rsaCa.ecdsa?.serverCpuUs),
      server_cpu_us_per_cert_rsa_csr: whole(rsaCa.rsa?.serverCpuUs),
      ec_ca_server_cpu_us_per_cert_at_rate: Math.round(ecCa.atRate.serverCpuUs),
      ec_ca_p50_ms_at_rate: round(ecCa.atRate.p50),
      load_generator_cpu_us_per_cert: Math.round(rsaCa.atRate.clientCpuUs),
      p99_ms_at_4_in_flight: round(rsaCa.latency?.p99),
      throughput_concurrency: CONCURRENCY,
      ecdsa_p99_ms_saturated: round(rsaCa.ecdsa?.p99),
      rsa_p99_ms_saturated: round(rsaCa.rsa?.p99),
      ec_ca_ecdsa_per_s: whole(ecCa.ecdsa?.perSecond),
      ec_ca_rsa_per_s: whole(ecCa.rsa?.perSecond),
      ec_ca_p99_ms: round(ecCa.atRate.p99),
      errors: closedErrors(rsaCa) + closedErrors(ecCa) + rsaCa.atRate.errors + ecCa.atRate.errors,
      load_average_1m_after: round(loadavg()[0]),
      ...profile,
    }),
  );
}

main().catch((err: Error) => {
  console.error(`citadel bench failed: ${err.message}`);
  process.exit(1);
});
