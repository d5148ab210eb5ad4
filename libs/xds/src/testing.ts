/**
 * Test helpers for @mesh/xds and its users (Pilot, the sidecar): an in-process AdsServer on loopback, an
 * Envoy bootstrap pointing at it (SotW or Delta), a grpc-js-xds bootstrap for a node, readers for Envoy's
 * admin endpoints, and a bounded wait. Nothing here is a fake: the peers are real programs.
 */
import * as http from 'node:http';
import { createLogger, type Logger } from '@mesh/runtime';
import { AdsServer } from './server-ads';
import type { AdsServerOptions } from './server-types';
import type { Snapshot } from './snapshot';

export interface TestAdsServer {
  ads: AdsServer;
  port: number;
  /** '127.0.0.1:<port>' */
  address: string;
  stop(): Promise<void>;
}

/**
 * Starts an AdsServer on 127.0.0.1:<port> (default 0: any); with `nodeId` + `snapshot`, that snapshot is
 * set first. A fixed port lets a test restart "the same" server.
 */
export async function startTestAdsServer(
  opts: { nodeId?: string; snapshot?: Snapshot; options?: AdsServerOptions; port?: number } = {},
): Promise<TestAdsServer> {
  const ads = new AdsServer({ logger: opts.options?.logger ?? quietLogger(), ...opts.options });
  if (opts.nodeId && opts.snapshot) ads.setSnapshot(opts.nodeId, opts.snapshot);
  const bound = await ads.listen(`127.0.0.1:${opts.port ?? 0}`);
  return { ads, port: bound.port, address: `127.0.0.1:${bound.port}`, stop: bound.close };
}

/** A logger for tests: warnings and errors only (MESH_TEST_LOG=debug for more). */
export function quietLogger(component = 'xds-test'): Logger {
  const level = process.env.MESH_TEST_LOG === 'debug' ? 'debug' : 'error';
  return createLogger(component, level);
}

/**
 * An Envoy v3 bootstrap using ADS at 127.0.0.1:<xdsPort> (api_type GRPC for SotW or DELTA_GRPC), an HTTP/2
 * static cluster `xds-grpc` to it, LDS/CDS over ADS, admin on 127.0.0.1:<adminPort> (0 = any port).
 */
export function envoyBootstrap(opts: {
  nodeId: string;
  cluster?: string;
  xdsPort: number;
  mode?: 'GRPC' | 'DELTA_GRPC';
  adminPort?: number;
  metadata?: Record<string, unknown>;
}): Record<string, unknown> {
  return {
    node: { id: opts.nodeId, cluster: opts.cluster ?? 'test', metadata: opts.metadata ?? {} },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: opts.adminPort ?? 0 } } },
    dynamic_resources: {
      ads_config: {
        api_type: opts.mode ?? 'GRPC',
        transport_api_version: 'V3',
        grpc_services: [{ envoy_grpc: { cluster_name: 'xds-grpc' } }],
        set_node_on_first_message_only: true,
      },
      lds_config: { ads: {}, resource_api_version: 'V3' },
      cds_config: { ads: {}, resource_api_version: 'V3' },
    },
    static_resources: {
      clusters: [
        {
          name: 'xds-grpc',
          type: 'STATIC',
          connect_timeout: '1s',
          load_assignment: {
            cluster_name: 'xds-grpc',
            endpoints: [
              { lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: opts.xdsPort } } } }] },
            ],
          },
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
        },
      ],
    },
  };
}

/**
 * A grpc-js-xds bootstrap (for GRPC_XDS_BOOTSTRAP_CONFIG or the channel option
 * `grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config`, which takes it as a JSON string).
 */
export function grpcXdsBootstrap(opts: {
  serverUri: string;
  nodeId: string;
  cluster?: string;
  metadata?: Record<string, unknown>;
}): Record<string, unknown> {
  return {
    xds_servers: [{ server_uri: opts.serverUri, channel_creds: [{ type: 'insecure' }], server_features: [] }],
    node: { id: opts.nodeId, cluster: opts.cluster ?? 'test', metadata: opts.metadata ?? {}, locality: {} },
  };
}

/** GET a URL on loopback; resolves status and body (never rejects on HTTP errors). */
export function httpGetText(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

export interface EnvoyDynamicResource {
  name: string;
  version_info: string;
  last_updated?: string;
  error_state?: { failed_configuration?: unknown; last_update_attempt?: string; details?: string };
  /** The resource itself (listener/cluster/route_config/endpoint_config), as Envoy shows it. */
  resource: Record<string, unknown>;
  /** For listeners: 'active' | 'warming' | 'draining'. */
  state?: string;
}

/** Envoy admin /config_dump (with EDS) as JSON. */
export async function readConfigDump(adminUrl: string): Promise<{ configs: Record<string, unknown>[] }> {
  const res = await httpGetText(`${adminUrl}/config_dump?include_eds`);
  if (res.status !== 200) throw new Error(`config_dump answered ${res.status}: ${res.body.slice(0, 200)}`);
  return JSON.parse(res.body) as { configs: Record<string, unknown>[] };
}

/**
 * The dynamic resources of one kind from a config dump: listeners (active or warming), clusters, route
 * configs, endpoint configs; each with version_info and error_state (set when Envoy rejected an update).
 */
export function dynamicResources(
  dump: { configs: Record<string, unknown>[] },
  kind: 'listeners' | 'clusters' | 'routes' | 'endpoints',
): EnvoyDynamicResource[] {
  const out: EnvoyDynamicResource[] = [];
  for (const cfg of dump.configs) {
    const type = String(cfg['@type'] ?? '');
    if (kind === 'listeners' && type.endsWith('ListenersConfigDump')) {
      for (const l of (cfg.dynamic_listeners as Record<string, unknown>[] | undefined) ?? []) {
        const state = (['active_state', 'warming_state', 'draining_state'] as const).find((s) => l[s]);
        const st = (state ? l[state] : {}) as { version_info?: string; last_updated?: string; listener?: Record<string, unknown> };
        out.push({
          name: String(l.name),
          version_info: st.version_info ?? '',
          last_updated: st.last_updated,
          error_state: l.error_state as EnvoyDynamicResource['error_state'],
          resource: st.listener ?? {},
          state: state?.replace('_state', ''),
        });
      }
    } else if (kind === 'clusters' && type.endsWith('ClustersConfigDump')) {
      const all = [
        ...((cfg.dynamic_active_clusters as Record<string, unknown>[] | undefined) ?? []),
        ...((cfg.dynamic_warming_clusters as Record<string, unknown>[] | undefined) ?? []),
      ];
      for (const c of all) {
        const cluster = (c.cluster ?? {}) as Record<string, unknown>;
        out.push({
          name: String(cluster.name ?? ''),
          version_info: String(c.version_info ?? ''),
          last_updated: c.last_updated as string | undefined,
          error_state: c.error_state as EnvoyDynamicResource['error_state'],
          resource: cluster,
        });
      }
    } else if (kind === 'routes' && type.endsWith('RoutesConfigDump')) {
      for (const r of (cfg.dynamic_route_configs as Record<string, unknown>[] | undefined) ?? []) {
        const rc = (r.route_config ?? {}) as Record<string, unknown>;
        out.push({
          name: String(rc.name ?? ''),
          version_info: String(r.version_info ?? ''),
          last_updated: r.last_updated as string | undefined,
          error_state: r.error_state as EnvoyDynamicResource['error_state'],
          resource: rc,
        });
      }
    } else if (kind === 'endpoints' && type.endsWith('EndpointsConfigDump')) {
      for (const e of (cfg.dynamic_endpoint_configs as Record<string, unknown>[] | undefined) ?? []) {
        const ec = (e.endpoint_config ?? {}) as Record<string, unknown>;
        out.push({
          name: String(ec.cluster_name ?? ''),
          version_info: String(e.version_info ?? ''),
          last_updated: e.last_updated as string | undefined,
          error_state: e.error_state as EnvoyDynamicResource['error_state'],
          resource: ec,
        });
      }
    }
  }
  return out;
}

/**
 * The version a whole type was last updated to, from a config dump: `version_info` of ListenersConfigDump
 * or ClustersConfigDump (for Delta xDS, the system_version_info of the last response).
 */
export function dumpVersion(dump: { configs: Record<string, unknown>[] }, kind: 'listeners' | 'clusters'): string {
  const suffix = kind === 'listeners' ? 'ListenersConfigDump' : 'ClustersConfigDump';
  const cfg = dump.configs.find((c) => String(c['@type'] ?? '').endsWith(suffix));
  return String(cfg?.version_info ?? '');
}

/** Envoy admin /clusters?format=json: cluster name -> host addresses ('ip:port') with health flags. */
export async function readClusters(adminUrl: string): Promise<Map<string, { address: string; healthy: boolean }[]>> {
  const res = await httpGetText(`${adminUrl}/clusters?format=json`);
  if (res.status !== 200) throw new Error(`/clusters answered ${res.status}`);
  const json = JSON.parse(res.body) as {
    cluster_statuses?: {
      name: string;
      host_statuses?: { address?: { socket_address?: { address: string; port_value: number } }; health_status?: Record<string, unknown> }[];
    }[];
  };
  const out = new Map<string, { address: string; healthy: boolean }[]>();
  for (const c of json.cluster_statuses ?? []) {
    out.set(
      c.name,
      (c.host_statuses ?? []).map((h) => ({
        address: `${h.address?.socket_address?.address}:${h.address?.socket_address?.port_value}`,
        healthy: (h.health_status?.eds_health_status ?? 'HEALTHY') === 'HEALTHY' && !h.health_status?.failed_active_health_check,
      })),
    );
  }
  return out;
}

/** A counter or gauge from Envoy admin /stats (undefined when absent). */
export async function readEnvoyStat(adminUrl: string, name: string): Promise<number | undefined> {
  const res = await httpGetText(`${adminUrl}/stats?filter=${encodeURIComponent(`^${name.replace(/\./g, '\\.')}$`)}`);
  const line = res.body.split('\n').find((l) => l.startsWith(`${name}: `));
  return line === undefined ? undefined : Number(line.slice(name.length + 2));
}

/**
 * Polls `check` until it returns a value other than undefined/false, at most `attempts` times and
 * `timeoutMs` overall; throws with `what` and the last error otherwise.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  const attempts = Math.ceil(timeoutMs / intervalMs) + 1;
  let lastError: unknown;
  for (let i = 0; i < attempts && Date.now() <= deadline; i++) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
}
export * from './testing-raw-stream';
