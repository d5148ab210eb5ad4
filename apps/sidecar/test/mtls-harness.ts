/**
 * Mutual TLS between sidecars, for tests: the real Citadel binary issues each workload's certificate to
 * its own node agent; in-process sidecars get the agent (SDS 'default'/'ROOTCA' resolved locally) and
 * their configuration from one real AdsServer (@mesh/xds/testing), with Istio-shaped resources: inbound
 * listeners whose filter chains match transport_protocol 'tls'/'raw_buffer' (STRICT, PERMISSIVE,
 * DISABLE) and outbound clusters with UpstreamTlsContext over SDS (ISTIO_MUTUAL).
 */
import { mkdirSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type * as net from 'node:net';
import path from 'node:path';
import { createLogger } from '@mesh/runtime';
import {
  downstreamTlsTransportSocket, hcmNetworkFilter, httpConnectionManager, istioMutualTlsContext, sdsSecretConfig, Snapshot, socketListener, TYPE_URL,
  typedConfig, upstreamTlsTransportSocket, type FilterChain, type HttpFilter, type SnapshotInput,
} from '@mesh/xds';
import { startTestAdsServer, type TestAdsServer } from '@mesh/xds/testing';
import { startNodeAgent, type NodeAgent } from '../src/agent';
import { buildNodeIdentity } from '../src/node-identity';
import { Proxy } from '../src/proxy';
import { ensureCitadelBuilt, recordingLogger, removeDir, startCitadel, tempDir, writeToken, type CitadelProcess } from './agent-harness';
import { waitUntil } from './helpers';

export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

export const spiffe = (ns: string, sa: string): string => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;

const tlsInspector = () => ({
  name: 'envoy.filters.listener.tls_inspector',
  typed_config: typedConfig('type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector', {}),
});

/** Istio's inbound TLS: certificate `default`, client certificate required and verified against `ROOTCA`. */
function inboundTls(alpn: string[]): FilterChain['transport_socket'] {
  return downstreamTlsTransportSocket({
    common_tls_context: {
      tls_certificate_sds_secret_configs: [sdsSecretConfig('default')],
      combined_validation_context: { default_validation_context: {}, validation_context_sds_secret_config: sdsSecretConfig('ROOTCA') },
      alpn_protocols: alpn,
    },
    require_client_certificate: { value: true },
  });
}

/** An inbound listener on 127.0.0.1:0 for one PeerAuthentication mode, as Pilot emits it. */
export function inboundListener(name: string, mode: MtlsMode, filters: { network?: object[]; http?: object[]; routeName?: string; tcpCluster?: string }): object {
  const terminal = filters.tcpCluster
    ? { name: 'envoy.filters.network.tcp_proxy', typed_config: typedConfig('type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', { stat_prefix: name, cluster: filters.tcpCluster }) }
    : hcmNetworkFilter(httpConnectionManager({ statPrefix: name, routeConfigName: filters.routeName ?? 'inbound', filters: (filters.http ?? []) as HttpFilter[] }));
  const chainFilters = [...(filters.network ?? []), terminal] as FilterChain['filters'];
  const alpn = filters.tcpCluster ? ['istio-peer-exchange', 'istio'] : ['h2', 'http/1.1'];
  const mtls: FilterChain = { name: `${name}-mtls`, filter_chain_match: { transport_protocol: 'tls' }, filters: chainFilters, transport_socket: inboundTls(alpn) };
  const plain: FilterChain = { name: `${name}-plaintext`, filter_chain_match: { transport_protocol: 'raw_buffer' }, filters: chainFilters };
  const chains = mode === 'STRICT' ? [mtls] : mode === 'PERMISSIVE' ? [mtls, plain] : [{ name: `${name}-plaintext`, filters: chainFilters }];
  return socketListener({ name, address: '127.0.0.1', port: 0, filterChains: chains, direction: 'INBOUND', listenerFilters: mode === 'DISABLE' ? [] : [tlsInspector()] });
}

/** ISTIO_MUTUAL (DestinationRule tls.mode) on an outbound cluster: SDS certificate, ROOTCA, SAN match, SNI. */
export function istioMutual(peerSans: string[], sni: string): { transport_socket: object } {
  return { transport_socket: upstreamTlsTransportSocket({ sni, common_tls_context: istioMutualTlsContext({ peerSans, alpn: ['istio'] }) }) };
}

export interface Sidecar {
  nodeId: string;
  proxy: Proxy;
  agent: NodeAgent;
  /** pushes this sidecar's resources and waits until they are applied and every listener is bound */
  push(r: Record<string, object[]>): Promise<void>;
  port(listener: string): number;
}

export interface Mesh {
  citadel: CitadelProcess;
  ads: TestAdsServer;
  /** a sidecar for namespace/service account with its own certificate from Citadel */
  sidecar(namespace: string, serviceAccount: string, opts?: { accessLog?: string; validitySeconds?: number }): Promise<Sidecar>;
  /** an extra identity (agent only) for raw TLS clients */
  agent(namespace: string, serviceAccount: string, opts?: { sdsSocketPath?: string; validitySeconds?: number }): Promise<NodeAgent>;
  /** a scratch directory removed by stop() */
  dir: string;
  stop(): Promise<void>;
}

let version = 0;
const KEYS = { listeners: TYPE_URL.LISTENER, routes: TYPE_URL.ROUTE, clusters: TYPE_URL.CLUSTER, endpoints: TYPE_URL.ENDPOINT } as const;

export async function startMesh(): Promise<Mesh> {
  await ensureCitadelBuilt();
  const dir = tempDir('mtls-test-');
  const caDir = path.join(dir, 'ca');
  const citadel = await startCitadel(caDir);
  const ads = await startTestAdsServer();
  const agents: NodeAgent[] = [];
  const proxies: Proxy[] = [];
  const { logger } = recordingLogger();
  const agent = async (namespace: string, serviceAccount: string, opts: { sdsSocketPath?: string; validitySeconds?: number } = {}): Promise<NodeAgent> => {
    const home = path.join(dir, `${namespace}-${serviceAccount}-${agents.length}`);
    mkdirSync(home);
    const a = await startNodeAgent({
      identity: { namespace, serviceAccount },
      caAddress: citadel.address,
      caRootCertPath: citadel.rootCertPath,
      tokenPath: await writeToken(caDir, home, namespace, serviceAccount),
      rootCheckIntervalMs: 0,
      sdsSocketPath: opts.sdsSocketPath,
      validitySeconds: opts.validitySeconds,
      logger,
    });
    agents.push(a);
    return a;
  };
  return {
    citadel,
    ads,
    agent,
    dir,
    async sidecar(namespace, serviceAccount, opts = {}) {
      const a = await agent(namespace, serviceAccount, { validitySeconds: opts.validitySeconds });
      const nodeId = `sidecar~127.0.0.1~${serviceAccount}-1.${namespace}~${namespace}.svc.cluster.local`;
      const built = buildNodeIdentity({
        nodeId, namespace, podName: undefined, instanceIp: undefined, serviceAccount, labels: [`app=${serviceAccount}`, 'version=v1'],
        interceptionMode: 'REDIRECT', clusterId: 'Kubernetes', env: { meta: {}, labelsJson: undefined },
      });
      if (!built.ok) throw new Error(`bad node ${nodeId}`);
      const proxy = new Proxy({
        node: built.node, xdsTarget: ads.address, admin: undefined, drainMs: 200, accessLogPath: opts.accessLog ?? '', concurrency: 1, certificates: a,
        log: createLogger('sidecar-test', process.env.MESH_TEST_LOG === 'debug' ? 'debug' : 'error'),
      });
      proxies.push(proxy);
      await proxy.start();
      let last: Record<string, object[]> = {};
      return {
        nodeId,
        proxy,
        agent: a,
        async push(r) {
          const v = String(++version);
          const input: SnapshotInput = {};
          for (const [k, list] of Object.entries(r)) input[KEYS[k as keyof typeof KEYS]] = { version: v, resources: list };
          ads.ads.setSnapshot(nodeId, new Snapshot(input));
          // The server sends only what changed (nothing for an unchanged type): wait for those.
          const changed = Object.keys(r).filter((k) => JSON.stringify(r[k]) !== JSON.stringify(last[k]));
          last = { ...last, ...r };
          await waitUntil('config applied', () => changed.every((k) => proxy.store[k as 'listeners'].version === v));
          await proxy.listeners.settled();
          const names = (r.listeners ?? []).map((l) => (l as { name: string }).name);
          await waitUntil('listeners bound', () => names.every((n) => proxy.listeners.port(n) !== undefined));
        },
        port(name) {
          const p = proxy.listeners.port(name);
          if (p === undefined) throw new Error(`listener ${name} is not bound`);
          return p;
        },
      };
    },
    async stop() {
      for (const p of proxies) await p.stop();
      for (const a of agents) await a.stop();
      await ads.stop();
      await citadel.stop();
      removeDir(dir);
    },
  };
}

/** A backend that answers 200 with what it saw (path and headers) as JSON. */
export async function startEchoBackend(): Promise<{ port: number; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    const body = JSON.stringify({ url: req.url, headers: req.headers });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface Reply {
  status: number;
  body: string;
}

/**
 * A request straight to a sidecar listener, over mTLS with `identity`'s certificate (the server's
 * identity is not checked here) or over plaintext when `identity` is undefined.
 */
export function directRequest(port: number, identity: NodeAgent | undefined, urlPath = '/', headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const cert = identity?.current();
    const options = { host: '127.0.0.1', port, path: urlPath, headers: { host: 'server.shop', ...headers }, agent: false as const, timeout: 5000 };
    const onResponse = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    };
    const req = cert
      ? https.request({ ...options, servername: 'server.shop', cert: cert.certChainPem, key: cert.privateKeyPem, ca: cert.rootCertPem, checkServerIdentity: () => undefined }, onResponse)
      : http.request(options, onResponse);
    req.on('timeout', () => req.destroy(new Error('no response within 5 s')));
    req.on('error', reject);
    req.end();
  });
}
