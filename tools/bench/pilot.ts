/**
 * npm run bench -- pilot [--proxies 500] [--services 1000] [--namespaces 10] [--full-iterations 10] [--eds-iterations 20] [--push-throttle 100]
 *
 * Pilot in this process (its RSS is what we report); the load side in a child process: N simulated
 * Envoy-like proxies, each a real Delta ADS stream over loopback (wildcard CDS/LDS, EDS and RDS by name,
 * every response ACKed at once). Scenario: `services` ServiceEntries, each with a VirtualService (80/20),
 * a DestinationRule with two subsets and two WorkloadEntries, spread over `namespaces` namespaces plus a
 * `shared` one (10% of the services); every namespace has a Sidecar with egress hosts ./* and shared/*,
 * so proxies of one namespace share one proxy class (one snapshot).
 *
 * full push: a ServiceEntry in `shared` changes (a new port; all xDS types are regenerated) -> the time
 * from writing the file to the last proxy's ACK of its new CDS. eds push: a WorkloadEntry in `shared`
 * changes its port -> the last proxy's ACK of the new EDS. Both include the 100 ms debounce.
 * Last line: one JSON object.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createLogger } from '@mesh/runtime';
import { Root } from 'protobufjs';
import { decodeMessage, loadXdsProtos, referencedRouteNames, TYPE_URL } from '@mesh/xds';

const args = process.argv.slice(2);
function arg(name: string, def: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
}

// ---------------------------------------------------------------- load side (child process)

interface ArmMsg { cmd: 'arm'; typeUrl: string; id: number }
interface StartMsg { cmd: 'start'; xdsPort: number; proxies: number; namespaces: number }

/**
 * The load side must not be the bottleneck: a DeltaDiscoveryResponse is decoded with a minimal schema
 * (field numbers of envoy.service.discovery.v3.DeltaDiscoveryResponse / Resource) that keeps each
 * resource's Any as raw bytes; only listeners are decoded (to find their RDS names), as Envoy would.
 */
const light = Root.fromJSON({
  nested: {
    LightDeltaResponse: {
      fields: {
        system_version_info: { id: 1, type: 'string' },
        resources: { id: 2, type: 'LightResource', rule: 'repeated' },
        type_url: { id: 4, type: 'string' },
        nonce: { id: 5, type: 'string' },
      },
    },
    LightResource: { fields: { version: { id: 1, type: 'string' }, resource: { id: 2, type: 'LightAny' }, name: { id: 3, type: 'string' } } },
    LightAny: { fields: { type_url: { id: 1, type: 'string' }, value: { id: 2, type: 'bytes' } } },
  },
});
const LightDeltaResponse = light.lookupType('LightDeltaResponse');
interface LightResponse {
  system_version_info: string;
  type_url: string;
  nonce: string;
  resources: { name: string; resource?: { value: Uint8Array } }[];
}

function runChild(): void {
  const streams: { id: string; ackedAt: Map<string, number>; version: Map<string, string> }[] = [];
  let armed: ArmMsg | undefined;
  let armedAcks = new Map<string, number>();
  /** Per stream, the armed type's version when armed: a later response of that version (the previous push's
   * trailing cluster removals) is not the change being measured. */
  let armedFrom = new Map<string, string | undefined>();
  let connectedAll = false;
  const send = (m: unknown): boolean => process.send?.(m) ?? false;

  process.on('message', (msg: StartMsg | ArmMsg | { cmd: 'exit' }) => {
    if (msg.cmd === 'exit') process.exit(0);
    if (msg.cmd === 'arm') {
      armed = msg;
      armedAcks = new Map();
      armedFrom = new Map(streams.map((s) => [s.id, s.version.get(msg.typeUrl)]));
      return;
    }
    const def = loadXdsProtos().packageDefinition;
    const svc = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
    const full = (def[svc] as grpc.ServiceDefinition).DeltaAggregatedResources as grpc.MethodDefinition<object, unknown>;
    const Ctor = grpc.makeGenericClientConstructor(
      {
        DeltaAggregatedResources: {
          ...full,
          responseDeserialize: (bytes: Buffer) => LightDeltaResponse.toObject(LightDeltaResponse.decode(bytes), { defaults: true, arrays: true }),
        },
      },
      svc,
    );
    const clients: grpc.Client[] = [];
    let initialized = 0;
    for (let i = 0; i < msg.proxies; i++) {
      if (i % 25 === 0) clients.push(new Ctor(`127.0.0.1:${msg.xdsPort}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': 64 * 1024 * 1024 }));
      const client = clients[clients.length - 1] as unknown as { DeltaAggregatedResources(): grpc.ClientDuplexStream<object, Record<string, unknown>> };
      const ns = `ns-${i % msg.namespaces}`;
      const id = `sidecar~10.0.${Math.floor(i / 250)}.${i % 250}~proxy-${i}.${ns}~${ns}.svc.cluster.local`;
      const call = client.DeltaAggregatedResources() as unknown as grpc.ClientDuplexStream<object, LightResponse>;
      const state = { id, ackedAt: new Map<string, number>(), version: new Map<string, string>() };
      streams.push(state);
      const subscribed = new Map<string, Set<string>>([[TYPE_URL.ENDPOINT, new Set()], [TYPE_URL.ROUTE, new Set()]]);
      let first = true;
      const node = { id, cluster: 'bench', metadata: { fields: { NAMESPACE: { string_value: ns }, INTERCEPTION_MODE: { string_value: 'REDIRECT' } } }, locality: {} };
      call.on('error', () => undefined);
      call.on('data', (res: LightResponse) => {
        const typeUrl = res.type_url;
        const resources = res.resources;
        const nonce = res.nonce;
        // Follow references as Envoy does: clusters -> EDS names, listeners -> RDS names.
        const follow = (t: string, names: string[]): void => {
          const set = subscribed.get(t) as Set<string>;
          const added = names.filter((n) => !set.has(n));
          for (const n of added) set.add(n);
          if (added.length > 0) call.write({ type_url: t, resource_names_subscribe: added });
        };
        if (typeUrl === TYPE_URL.CLUSTER) follow(TYPE_URL.ENDPOINT, resources.map((r) => r.name));
        if (typeUrl === TYPE_URL.LISTENER) {
          const names = resources.flatMap((r) => referencedRouteNames(decodeMessage(TYPE_URL.LISTENER, r.resource?.value ?? new Uint8Array())));
          follow(TYPE_URL.ROUTE, names);
        }
        call.write({ type_url: typeUrl, response_nonce: nonce });
        const now = performance.timeOrigin + performance.now();
        state.ackedAt.set(typeUrl, now);
        state.version.set(typeUrl, res.system_version_info);
        if (typeUrl === TYPE_URL.ROUTE && first) {
          first = false;
          if (++initialized === msg.proxies && !connectedAll) {
            connectedAll = true;
            send({ cmd: 'ready' });
          }
        }
        if (armed && typeUrl === armed.typeUrl && !armedAcks.has(id) && res.system_version_info !== armedFrom.get(id)) {
          armedAcks.set(id, now);
          if (armedAcks.size === msg.proxies) send({ cmd: 'acked', id: armed.id, times: [...armedAcks.values()] });
        }
      });
      call.write({ node, type_url: TYPE_URL.CLUSTER });
      call.write({ type_url: TYPE_URL.LISTENER });
    }
  });
  send({ cmd: 'child-up' });
}

// ---------------------------------------------------------------- scenario files

function serviceYaml(i: number, ns: string, extraPort: number | undefined, wePorts: [number, number]): string {
  const host = `svc-${i}.${ns}.svc.cluster.local`;
  const ports = [`{number: 80, name: http, protocol: HTTP}`, ...(extraPort ? [`{number: ${extraPort}, name: http-extra, protocol: HTTP}`] : [])];
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: svc-${i}, namespace: ${ns}}
spec:
  hosts: [${host}]
  resolution: STATIC
  location: MESH_INTERNAL
  ports: [${ports.join(', ')}]
  workloadSelector: {labels: {app: svc-${i}}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: svc-${i}-a, namespace: ${ns}}
spec: {address: 10.1.${Math.floor(i / 200)}.${i % 200}, ports: {http: ${wePorts[0]}}, labels: {app: svc-${i}, version: v1}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: svc-${i}-b, namespace: ${ns}}
spec: {address: 10.2.${Math.floor(i / 200)}.${i % 200}, ports: {http: ${wePorts[1]}}, labels: {app: svc-${i}, version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: svc-${i}, namespace: ${ns}}
spec:
  host: ${host}
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: svc-${i}, namespace: ${ns}}
spec:
  hosts: [${host}]
  http:
  - route:
    - {destination: {host: ${host}, subset: v1}, weight: 80}
    - {destination: {host: ${host}, subset: v2}, weight: 20}
`;
}

function writeAtomic(file: string, text: string): void {
  fs.writeFileSync(`${file}.tmp`, text);
  fs.renameSync(`${file}.tmp`, file);
}

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return Math.round((s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? 0) * 10) / 10;
}

// ---------------------------------------------------------------- driver (pilot in this process)

async function main(): Promise<void> {
  const { startPilot } = await import('../../apps/pilot/src/pilot');
  const services = arg('services', 1000);
  const proxies = arg('proxies', 500);
  const namespaces = arg('namespaces', 10);
  const fullIterations = arg('full-iterations', 10);
  const edsIterations = arg('eds-iterations', 20);
  const pushThrottle = arg('push-throttle', 100);
  const deadline = Date.now() + arg('max-seconds', 240) * 1000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pilot-bench-'));
  const shared = Math.max(1, Math.floor(services / 10));
  const nsOf = (i: number): string => (i < shared ? 'shared' : `ns-${i % namespaces}`);
  const chunks = new Map<string, string[]>();
  for (let i = 0; i < services; i++) {
    const ns = nsOf(i);
    if (i === 0) continue; // svc-0 lives in its own file: it is the one the benchmark changes
    const list = chunks.get(ns) ?? [];
    list.push(serviceYaml(i, ns, undefined, [8080, 8080]));
    chunks.set(ns, list);
  }
  for (const [ns, docs] of chunks) fs.writeFileSync(path.join(dir, `${ns}.yaml`), docs.join('---\n'));
  fs.writeFileSync(path.join(dir, 'svc-0.yaml'), serviceYaml(0, 'shared', undefined, [8080, 8080]));
  const sidecars = Array.from({ length: namespaces }, (_, n) => `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: ns-${n}}
spec:
  egress: [{hosts: ["./*", "shared/*"]}]
`);
  fs.writeFileSync(path.join(dir, 'sidecars.yaml'), sidecars.join('---\n'));
  console.log(`scenario: ${services} services (${shared} shared), ${namespaces} namespaces, ${proxies} proxies; config in ${dir}`);

  const loadStart = Date.now();
  const pilot = await startPilot({
    configDir: dir,
    xdsAddress: { host: '127.0.0.1', port: 0 },
    debounceAfterMs: 100,
    debounceMaxMs: 10_000,
    pushThrottle,
    rescanMs: 60_000,
    rootNamespace: 'istio-system',
    domainSuffix: 'cluster.local',
    log: createLogger('pilot', 'warn'),
  });
  console.log(`pilot loaded the config and listens on ${pilot.xdsPort} (${Date.now() - loadStart} ms)`);

  const child: ChildProcess = fork(__filename, ['--load-child'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waitFor = <T>(pred: (m: Record<string, unknown>) => boolean, ms: number, what: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.off('message', on);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      }, ms);
      const on = (m: Record<string, unknown>): void => {
        if (!pred(m)) return;
        clearTimeout(timer);
        child.off('message', on);
        resolve(m as T);
      };
      child.on('message', on);
    });
  const stop = async (): Promise<void> => {
    if (child.connected) child.send({ cmd: 'exit' });
    await pilot.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor((m) => m.cmd === 'child-up', 30_000, 'the load process');
    const connectStart = Date.now();
    child.send({ cmd: 'start', xdsPort: pilot.xdsPort, proxies, namespaces });
    await waitFor((m) => m.cmd === 'ready', 120_000, 'every proxy to receive its first config');
    const connectedRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
    console.log(`${proxies} proxies connected and configured in ${Date.now() - connectStart} ms (peak RSS so far ${connectedRssMb} MB)`);

    let armId = 0;
    const phases: Record<string, number[]> = {};
    const phase = (name: string, v: number): void => {
      (phases[name] ??= []).push(v);
    };
    async function measure(typeUrl: string, change: () => void): Promise<number> {
      const label = typeUrl === TYPE_URL.ENDPOINT ? 'eds' : 'full';
      const id = ++armId;
      child.send({ cmd: 'arm', typeUrl, id });
      await new Promise((r) => setTimeout(r, 50)); // let the arm message land before the change
      const cpu0 = process.cpuUsage();
      const t0 = performance.timeOrigin + performance.now();
      change();
      const res = await waitFor<{ times: number[] }>((m) => m.cmd === 'acked' && m.id === id, 30_000, `ACKs of ${typeUrl}`);
      const last = Math.max(...res.times);
      // Pilot's CPU time for the whole push (watch, parse, generate, hand-off, ACK handling): unlike wall
      // time it hardly depends on what else the machine runs.
      const cpu = process.cpuUsage(cpu0);
      phase(`${label} pilot cpu`, (cpu.user + cpu.system) / 1000);
      const lp = pilot.push.lastPush;
      if (lp) {
        // Where the time went: file write -> change seen -> push start -> snapshots handed off -> last ACK.
        phase(`${label} watch`, lp.changeSeenAt - t0);
        phase(`${label} debounce+context`, lp.startedAt - lp.changeSeenAt);
        phase(`${label} generate+hand-off`, lp.handedOffAt - lp.startedAt);
        phase(`${label} deliver+ACK`, last - lp.handedOffAt);
      }
      return last - t0;
    }

    // `MESH_BENCH_CPU_PROFILE=/tmp/p.cpuprofile MESH_BENCH_CPU_PROFILE_PHASE=eds|full`: a CPU profile of Pilot
    // during that phase only (open it in Chrome DevTools or summarise it by function).
    const profile = await phaseProfiler(process.env.MESH_BENCH_CPU_PROFILE, process.env.MESH_BENCH_CPU_PROFILE_PHASE ?? 'eds');
    const full: number[] = [];
    await profile.begin('full');
    const generate: number[] = [];
    for (let i = 0; i < fullIterations && Date.now() < deadline; i++) {
      const ms = await measure(TYPE_URL.CLUSTER, () => writeAtomic(path.join(dir, 'svc-0.yaml'), serviceYaml(0, 'shared', 9000 + i, [8080, 8080])));
      full.push(ms);
      const lp = pilot.push.lastPush;
      if (lp) generate.push(lp.generateMs / Math.max(1, lp.proxies));
      console.log(`full push ${i + 1}: ${ms.toFixed(1)} ms to the last ACK (generate ${lp?.generateMs} ms for ${lp?.classes} classes, hand-off to ${lp?.proxies} streams ${lp?.distributeMs} ms)`);
    }
    await profile.end('full');
    const eds: number[] = [];
    await profile.begin('eds');
    for (let i = 0; i < edsIterations && Date.now() < deadline; i++) {
      const ms = await measure(TYPE_URL.ENDPOINT, () => writeAtomic(path.join(dir, 'svc-0.yaml'), serviceYaml(0, 'shared', 9000 + fullIterations - 1, [8081 + i, 8080])));
      eds.push(ms);
      const lp = pilot.push.lastPush;
      console.log(`eds push ${i + 1}: ${ms.toFixed(1)} ms to the last ACK (types ${lp?.types.join(',')}; generate ${lp?.generateMs} ms, hand-off ${lp?.distributeMs} ms)`);
    }
    await profile.end('eds');
    if (process.env.MESH_BENCH_HEAP_SNAPSHOT) {
      // Where the heap goes (for memory work): `MESH_BENCH_HEAP_SNAPSHOT=/tmp/pilot.heapsnapshot npm run bench -- pilot`.
      const v8 = await import('node:v8');
      console.log(`heap snapshot: ${v8.writeHeapSnapshot(process.env.MESH_BENCH_HEAP_SNAPSHOT)}`);
    }
    const mem = process.memoryUsage();
    try {
      // Linux: resident memory by kind (anonymous = heaps and native allocations; file = mapped binaries).
      const status = fs.readFileSync('/proc/self/status', 'utf8');
      console.log(`memory: ${['VmRSS', 'RssAnon', 'RssFile', 'VmHWM'].map((k) => status.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm'))?.[0]?.replace(/\s+/g, ' ')).join(', ')}; heap total ${Math.round(mem.heapTotal / 1048576)} MB, array buffers ${Math.round(mem.arrayBuffers / 1048576)} MB`);
    } catch {
      // not Linux
    }
    const rssMb = Math.round(mem.rss / 1024 / 1024);
    const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
    console.log(`phases (p50 ms over all pushes): ${Object.entries(phases).map(([k, v]) => `${k} ${pct(v, 50)}`).join(', ')}`);
    await stop();
    console.log(
      JSON.stringify({
        services,
        proxies,
        full_push_p50_ms: pct(full, 50),
        full_push_p99_ms: pct(full, 99),
        eds_push_p99_ms: pct(eds, 99),
        full_push_cpu_ms_p50: pct(phases['full pilot cpu'] ?? [], 50),
        eds_push_cpu_ms_p50: pct(phases['eds pilot cpu'] ?? [], 50),
        generate_ms_per_proxy: Math.round(pct(generate, 50) * 1000) / 1000,
        pilot_rss_mb: rssMb,
        pilot_peak_rss_mb: peakRssMb,
        pilot_peak_rss_connect_mb: connectedRssMb,
        pilot_heap_used_mb: Math.round(mem.heapUsed / 1024 / 1024),
        pilot_heap_total_mb: Math.round(mem.heapTotal / 1024 / 1024),
        pilot_external_mb: Math.round(mem.external / 1024 / 1024),
        namespaces,
        full_iterations: full.length,
        eds_iterations: eds.length,
        debounce_ms: 100,
        push_throttle: pushThrottle,
        push_peak_in_flight: pilot.ads.pushQueue().peakInFlight,
      }),
    );
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Starts/stops the inspector's CPU profiler around one phase and writes the profile to `file`. */
async function phaseProfiler(file: string | undefined, phase: string): Promise<{ begin(p: string): Promise<void>; end(p: string): Promise<void> }> {
  if (!file) return { begin: async () => undefined, end: async () => undefined };
  const inspector = await import('node:inspector');
  const session = new inspector.Session();
  session.connect();
  const post = (method: string, params?: object): Promise<unknown> =>
    new Promise((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
  // A file ending in .heapprofile gets a sampling allocation profile instead (what allocates, by function).
  const heap = file.endsWith('.heapprofile');
  if (heap) await post('HeapProfiler.enable');
  else {
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 200 });
  }
  return {
    begin: async (p) => {
      if (p === phase) await post(heap ? 'HeapProfiler.startSampling' : 'Profiler.start', heap ? { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } : {});
    },
    end: async (p) => {
      if (p !== phase) return;
      const res = (await post(heap ? 'HeapProfiler.stopSampling' : 'Profiler.stop')) as { profile: object };
      fs.writeFileSync(file, JSON.stringify(res.profile));
      console.log(`${heap ? 'allocation' : 'cpu'} profile of the ${phase} phase: ${file}`);
    },
  };
}

if (args.includes('--load-child')) runChild();
else
  main().then(
    () => process.exit(0),
    (err: Error) => {
      console.error(`MESH_ERR_BENCH_PILOT: ${err.message}`);
      process.exit(1);
    },
  );
