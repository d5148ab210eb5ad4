/**
 * Test helpers for pilot's interop tests: real grpc-js echo servers that say who they are, a pilot
 * started in-process on port 0 with a temporary config dir, and real grpc-js-xds clients.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { createLogger } from '@mesh/runtime';
import { startPilot, type RunningPilot } from '../src/pilot';

grpcXds.register();

const passthrough = (b: Buffer): Buffer => b;
export const echoService: grpc.ServiceDefinition = {
  Echo: {
    path: '/mesh.test.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: passthrough,
    requestDeserialize: passthrough,
    responseSerialize: passthrough,
    responseDeserialize: passthrough,
  },
};
export const EchoClient = grpc.makeGenericClientConstructor(echoService, 'Echo');

export interface Backend {
  name: string;
  port: number;
  calls: number;
  /** Fail the next N calls with UNAVAILABLE. */
  failNext: number;
  delayMs: number;
  stop(): Promise<void>;
}

/** A real grpc-js server answering Echo with its own name. */
export async function startBackend(name: string): Promise<Backend> {
  const server = new grpc.Server();
  const backend: Backend = {
    name,
    port: 0,
    calls: 0,
    failNext: 0,
    delayMs: 0,
    stop: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
  server.addService(echoService, {
    Echo: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      backend.calls++;
      if (backend.failNext > 0) {
        backend.failNext--;
        cb({ code: grpc.status.UNAVAILABLE, details: `${name} unavailable` });
        return;
      }
      const reply = (): void => cb(null, Buffer.from(name));
      if (backend.delayMs > 0) setTimeout(reply, backend.delayMs);
      else reply();
    },
  });
  backend.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );
  return backend;
}

export function tempConfigDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pilot-test-'));
}

/** Writes a file atomically (write + rename) so the watcher never reads half a file. */
export function writeConfig(dir: string, name: string, yaml: string): void {
  const tmp = path.join(dir, `.${name}.tmp`);
  fs.writeFileSync(tmp, yaml);
  fs.renameSync(tmp, path.join(dir, name));
}

export async function startTestPilot(dir: string, debounceAfterMs = 100): Promise<RunningPilot> {
  return startPilot({
    configDir: dir,
    xdsAddress: { host: '127.0.0.1', port: 0 },
    debugAddress: { host: '127.0.0.1', port: 0 },
    debounceAfterMs,
    debounceMaxMs: 10_000,
    rescanMs: 500,
    rootNamespace: 'istio-system',
    domainSuffix: 'cluster.local',
    log: createLogger('pilot', (process.env.PILOT_TEST_LOG as 'debug' | undefined) ?? 'silent'),
  });
}

let clientCount = 0;

/** A proxyless gRPC client (GENERATOR grpc) for xds:///<target>, bootstrapped against the given pilot. */
export function xdsClient(xdsPort: number, target: string, namespace = 'test'): grpc.Client {
  const id = `sidecar~127.0.0.1~client-${++clientCount}.${namespace}~${namespace}.svc.cluster.local`;
  const bootstrap = {
    xds_servers: [{ server_uri: `127.0.0.1:${xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: [] }],
    node: { id, cluster: 'test', locality: {}, metadata: { GENERATOR: 'grpc', NAMESPACE: namespace } },
  };
  return new EchoClient(`xds:///${target}`, grpc.credentials.createInsecure(), {
    'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config': JSON.stringify(bootstrap),
  });
}

export interface CallResult {
  backend?: string;
  code: number;
}

export function call(client: grpc.Client, metadata: Record<string, string> = {}, deadlineMs = 5000): Promise<CallResult> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  return new Promise((resolve) => {
    client.makeUnaryRequest<Buffer, Buffer>(
      '/mesh.test.Echo/Echo',
      passthrough,
      passthrough,
      Buffer.alloc(0),
      md,
      { deadline: Date.now() + deadlineMs },
      (err, value) => resolve(err ? { code: err.code ?? 2 } : { backend: value?.toString(), code: 0 }),
    );
  });
}

/** Calls until `ok(result)` or the bounds run out (count and time). */
export async function callUntil(client: grpc.Client, ok: (r: CallResult) => boolean, opts: { tries?: number; ms?: number; metadata?: Record<string, string> } = {}): Promise<CallResult> {
  const end = Date.now() + (opts.ms ?? 10_000);
  let last: CallResult = { code: -1 };
  for (let i = 0; i < (opts.tries ?? 200) && Date.now() < end; i++) {
    last = await call(client, opts.metadata, 2000);
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  return last;
}

export async function count(client: grpc.Client, n: number, metadata: Record<string, string> = {}): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let i = 0; i < n; i += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => call(client, metadata)));
    for (const r of batch) {
      const key = r.code === 0 ? (r.backend ?? '?') : `code:${r.code}`;
      out.set(key, (out.get(key) ?? 0) + 1);
    }
  }
  return out;
}

/** ServiceEntry + one WorkloadEntry per backend (labels as given), in namespace `test`. */
export function meshYaml(host: string, port: number, backends: { backend: Backend; labels: Record<string, string> }[]): string {
  const docs = [
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo, namespace: test}
spec:
  hosts: [${host}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: ${port}, name: grpc, protocol: GRPC}]
  workloadSelector: {labels: {app: echo}}`,
    ...backends.map(
      (b) => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${b.backend.name}, namespace: test}
spec:
  address: 127.0.0.1
  ports: {grpc: ${b.backend.port}}
  labels: ${JSON.stringify({ app: 'echo', ...b.labels })}`,
    ),
  ];
  return docs.join('\n---\n') + '\n';
}
