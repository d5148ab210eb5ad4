/**
 * Rows of a proxy's admin /config_dump (Envoy's, or our sidecar's, which has the same shape): listeners,
 * route configs, clusters and endpoints, each as a readable row; errors of rejected updates are kept.
 */
type Obj = Record<string, unknown>;

const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const list = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]).map(obj) : []);
/** Scalars as text; a protobuf wrapper (`{value: 3}`, as the mesh sidecar shows UInt32Value) as its value. */
const str = (v: unknown): string => {
  if (v === undefined || v === null) return '';
  if (typeof v === 'object' && 'value' in (v as Obj)) return str((v as Obj).value);
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
};

export type ConfigKind = 'listeners' | 'routes' | 'clusters' | 'endpoints';
export const CONFIG_KINDS: readonly ConfigKind[] = ['listeners', 'routes', 'clusters', 'endpoints'];

export const HEADERS: Record<ConfigKind, string[]> = {
  listeners: ['NAME', 'ADDRESS', 'ROUTES', 'STATE', 'VERSION'],
  routes: ['ROUTE CONFIG', 'VIRTUAL HOST', 'DOMAINS', 'MATCH', 'DESTINATION', 'VERSION'],
  clusters: ['NAME', 'TYPE', 'LB', 'SOURCE', 'VERSION'],
  endpoints: ['CLUSTER', 'ENDPOINT', 'LOCALITY', 'WEIGHT', 'HEALTH'],
};

export interface DumpRow {
  cells: string[];
  /** The resource as the proxy shows it, for -o json. */
  resource: Obj;
  error?: string;
}

function section(dump: unknown, suffix: string): Obj[] {
  return list(obj(dump).configs).filter((c) => str(c['@type']).endsWith(suffix));
}

function address(a: unknown): string {
  const sa = obj(obj(a).socket_address);
  if (sa.address === undefined) return str(obj(obj(a).pipe).path);
  const host = str(sa.address);
  return `${host.includes(':') ? `[${host}]` : host}:${str(sa.port_value)}`;
}

function errorOf(e: unknown): string | undefined {
  const d = obj(e).details;
  return d === undefined ? undefined : str(d);
}

/** Route config names (RDS) or `inline` of every HTTP connection manager of a listener. */
function listenerRoutes(l: Obj): string {
  const names = new Set<string>();
  for (const fc of [...list(l.filter_chains), ...(l.default_filter_chain ? [obj(l.default_filter_chain)] : [])]) {
    for (const f of list(fc.filters)) {
      const tc = obj(f.typed_config);
      if (tc.rds) names.add(str(obj(tc.rds).route_config_name));
      else if (tc.route_config) names.add(`inline:${str(obj(tc.route_config).name)}`);
      else if (tc.cluster) names.add(`tcp:${str(tc.cluster)}`);
    }
  }
  const api = obj(obj(l.api_listener).api_listener);
  if (api.rds) names.add(str(obj(api.rds).route_config_name));
  return [...names].join(',') || '-';
}

function listeners(dump: unknown): DumpRow[] {
  const rows: DumpRow[] = [];
  for (const s of section(dump, 'ListenersConfigDump')) {
    for (const st of list(s.static_listeners)) {
      const l = obj(st.listener);
      rows.push({ cells: [str(l.name), address(l.address), listenerRoutes(l), 'static', ''], resource: l });
    }
    for (const d of list(s.dynamic_listeners)) {
      const which = (['active_state', 'warming_state', 'draining_state'] as const).find((k) => d[k]);
      const st = obj(which ? d[which] : undefined);
      const l = obj(st.listener);
      const error = errorOf(d.error_state);
      const state = (which?.replace('_state', '') ?? 'none') + (error ? ' (update rejected)' : '');
      rows.push({ cells: [str(d.name), address(l.address), listenerRoutes(l), state, str(st.version_info)], resource: l, ...(error ? { error } : {}) });
    }
  }
  return rows;
}

function match(m: Obj): string {
  const path = m.prefix !== undefined ? `${str(m.prefix)}*` : m.path !== undefined ? str(m.path) : m.safe_regex ? `~${str(obj(m.safe_regex).regex)}` : m.path_separated_prefix ? `${str(m.path_separated_prefix)}/*` : '*';
  const headers = list(m.headers).map((h) => `${str(h.name)}`);
  return headers.length ? `${path} [${headers.join(',')}]` : path;
}

function destination(r: Obj): string {
  const a = obj(r.route);
  if (r.redirect) return 'redirect';
  if (r.direct_response) return `direct ${str(obj(r.direct_response).status)}`;
  if (a.cluster) return str(a.cluster);
  const wc = list(obj(a.weighted_clusters).clusters);
  if (wc.length) return wc.map((c) => `${str(c.name)} ${str(c.weight)}`).join(', ');
  if (a.cluster_header) return `header:${str(a.cluster_header)}`;
  return '-';
}

function routes(dump: unknown): DumpRow[] {
  const rows: DumpRow[] = [];
  for (const s of section(dump, 'RoutesConfigDump')) {
    const all = [...list(s.static_route_configs), ...list(s.dynamic_route_configs)];
    for (const d of all) {
      const rc = obj(d.route_config);
      const error = errorOf(d.error_state);
      const vhosts = list(rc.virtual_hosts);
      if (vhosts.length === 0) rows.push({ cells: [str(rc.name), '-', '-', '-', '-', str(d.version_info)], resource: rc, ...(error ? { error } : {}) });
      for (const vh of vhosts) {
        for (const r of list(vh.routes)) {
          const domains = (Array.isArray(vh.domains) ? (vh.domains as string[]) : []).join(',');
          rows.push({ cells: [str(rc.name), str(vh.name), domains, match(obj(r.match)), destination(r), str(d.version_info)], resource: r, ...(error ? { error } : {}) });
        }
      }
    }
  }
  return rows;
}

function clusters(dump: unknown): DumpRow[] {
  const rows: DumpRow[] = [];
  for (const s of section(dump, 'ClustersConfigDump')) {
    const groups: [string, Obj[]][] = [
      ['static', list(s.static_clusters)],
      ['dynamic', list(s.dynamic_active_clusters)],
      ['warming', list(s.dynamic_warming_clusters)],
    ];
    for (const [source, items] of groups) {
      for (const d of items) {
        const c = obj(d.cluster);
        const type = c.cluster_type ? str(obj(c.cluster_type).name) : str(c.type || 'EDS');
        const error = errorOf(d.error_state);
        rows.push({ cells: [str(c.name), type, str(c.lb_policy || 'ROUND_ROBIN'), source, str(d.version_info)], resource: c, ...(error ? { error } : {}) });
      }
    }
  }
  return rows.sort((a, b) => (a.cells[0] ?? '').localeCompare(b.cells[0] ?? ''));
}

function endpoints(dump: unknown): DumpRow[] {
  const rows: DumpRow[] = [];
  for (const s of section(dump, 'EndpointsConfigDump')) {
    for (const d of [...list(s.static_endpoint_configs), ...list(s.dynamic_endpoint_configs)]) {
      const ec = obj(d.endpoint_config);
      for (const le of list(ec.endpoints)) {
        const loc = obj(le.locality);
        const locality = [loc.region, loc.zone, loc.sub_zone].filter((x) => x).map(str).join('/') || '-';
        for (const e of list(le.lb_endpoints)) {
          const weight = str(e.load_balancing_weight ?? le.load_balancing_weight ?? '1');
          rows.push({ cells: [str(ec.cluster_name), address(obj(e.endpoint).address), locality, weight, str(e.health_status || 'UNKNOWN')], resource: e });
        }
      }
    }
  }
  return rows.sort((a, b) => (a.cells[0] ?? '').localeCompare(b.cells[0] ?? ''));
}

export function dumpRows(dump: unknown, kind: ConfigKind): DumpRow[] {
  switch (kind) {
    case 'listeners':
      return listeners(dump);
    case 'routes':
      return routes(dump);
    case 'clusters':
      return clusters(dump);
    case 'endpoints':
      return endpoints(dump);
    default: {
      const never: never = kind;
      return never;
    }
  }
}
