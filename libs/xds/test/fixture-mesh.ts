/**
 * Snapshots for the tests: one HTTP listener -> RDS route config -> EDS clusters -> endpoints, built with
 * the library's own builders.
 */
import {
  clusterLoadAssignment,
  clusterRoute,
  edsCluster,
  httpConnectionManager,
  httpListener,
  routeConfiguration,
  Snapshot,
  TYPE_URL,
  virtualHost,
  weightedRoute,
  apiListener,
} from '../src/index';

export interface MeshFixture {
  /** Version used for every type unless overridden. */
  version: string;
  versions?: Partial<Record<'lds' | 'rds' | 'cds' | 'eds', string>>;
  listenerPort?: number;
  /** cluster name -> endpoint ports on 127.0.0.1 */
  clusters: Record<string, number[]>;
  /** Route target: one cluster, or weights by cluster. */
  route: string | Record<string, number>;
  /** Extra prefix routes: prefix -> cluster. */
  prefixRoutes?: Record<string, string>;
  /** Proxyless gRPC: an api_listener named this instead of a socket listener. */
  apiListenerName?: string;
  http2?: boolean;
  /** Per-cluster connect timeout (changes the cluster's content). */
  connectTimeoutMs?: Record<string, number>;
}

export function meshSnapshot(f: MeshFixture): Snapshot {
  const v = (t: 'lds' | 'rds' | 'cds' | 'eds'): string => f.versions?.[t] ?? f.version;
  const routes = Object.entries(f.prefixRoutes ?? {}).map(([prefix, cluster]) => clusterRoute(prefix, cluster));
  routes.push(
    typeof f.route === 'string'
      ? clusterRoute('/', f.route)
      : weightedRoute({ prefix: '/' }, Object.entries(f.route).map(([name, weight]) => ({ name, weight }))),
  );
  const hcm = httpConnectionManager({ statPrefix: 'test', routeConfigName: 'routes' });
  const listener = f.apiListenerName
    ? apiListener(f.apiListenerName, hcm)
    : httpListener({ name: 'http', address: '127.0.0.1', port: f.listenerPort ?? 0, hcm });
  return new Snapshot({
    [TYPE_URL.LISTENER]: { version: v('lds'), resources: [listener] },
    [TYPE_URL.ROUTE]: { version: v('rds'), resources: [routeConfiguration('routes', [virtualHost('all', ['*'], routes)])] },
    [TYPE_URL.CLUSTER]: {
      version: v('cds'),
      resources: Object.keys(f.clusters).map((name) => edsCluster({ name, http2: f.http2, connectTimeoutMs: f.connectTimeoutMs?.[name] })),
    },
    [TYPE_URL.ENDPOINT]: {
      version: v('eds'),
      resources: Object.entries(f.clusters).map(([name, ports]) =>
        clusterLoadAssignment(name, ports.map((port) => ({ address: '127.0.0.1', port }))),
      ),
    },
  });
}
