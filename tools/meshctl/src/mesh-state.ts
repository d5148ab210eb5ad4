/**
 * What meshctl knows about the running local mesh: `<state-dir>/topology.json`, written by tools/local-mesh
 * while the mesh runs (components with their ports and links), and `<state-dir>/config`, Pilot's watched
 * config directory. Absent file = no local mesh (not an error: flags then say where things are).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { errors } from './errors';

export const WORKSPACE_ROOT = resolve(__dirname, '../../..');

export interface StatePort {
  name: string;
  host: string;
  port: number;
}

export interface StateComponent {
  name: string;
  role: string;
  pid?: number;
  ports: StatePort[];
  links: { label: string; url: string }[];
}

export interface MeshState {
  file: string;
  stateDir: string;
  supervisorPid?: number;
  components: StateComponent[];
}

export function stateFile(stateDir: string): string {
  return join(resolve(WORKSPACE_ROOT, stateDir), 'topology.json');
}

/** The topology of the running local mesh, undefined when there is none; a corrupt file is an error. */
export function readMeshState(stateDir: string): MeshState | undefined {
  const file = stateFile(stateDir);
  if (!existsSync(file)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw errors.create('STATE_UNREADABLE', { file, reason: (err as Error).message });
  }
  const r = raw as { supervisorPid?: unknown; components?: unknown };
  if (!Array.isArray(r.components)) throw errors.create('STATE_UNREADABLE', { file, reason: 'components: must be a list' });
  const components = (r.components as Record<string, unknown>[]).map((c) => ({
    name: String(c.name ?? ''),
    role: String(c.role ?? ''),
    pid: typeof c.pid === 'number' ? c.pid : undefined,
    ports: Array.isArray(c.ports) ? (c.ports as StatePort[]) : [],
    links: Array.isArray(c.links) ? (c.links as StateComponent['links']) : [],
  }));
  return {
    file,
    stateDir: resolve(WORKSPACE_ROOT, stateDir),
    supervisorPid: typeof r.supervisorPid === 'number' ? r.supervisorPid : undefined,
    components,
  };
}

function hostPort(p: StatePort): string {
  return p.host.includes(':') ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`;
}

/** Pilot's debug URL from the topology (component `pilot`, port `debug`). */
export function pilotUrl(state: MeshState | undefined): string | undefined {
  const port = state?.components.find((c) => c.name === 'pilot')?.ports.find((p) => p.name === 'debug');
  return port ? `http://${hostPort(port)}` : undefined;
}

/** `sidecar~10.0.0.1~reviews-v1.default~default.svc.cluster.local` -> its IP and workload (`reviews-v1`). */
function parseProxyId(proxyId: string): { ip: string; workload: string } | undefined {
  const parts = proxyId.split('~');
  return parts.length === 4 && parts[1] && parts[2] ? { ip: parts[1], workload: parts[2].split('.')[0] ?? '' } : undefined;
}

/**
 * A proxy's admin URL: `host:port` or a URL is used as is; otherwise a component name (`sidecar-reviews-v1`,
 * `ingress-gateway`) or an Istio proxy id is looked up in the topology (the component's port named
 * `admin`): by name (`sidecar-<workload>`, `<workload>`), else by the proxy id's IP being the host its
 * admin port is bound on (each local proxy has its own loopback address).
 */
export function resolveProxyAdmin(proxy: string, state: MeshState | undefined): string {
  if (/^https?:\/\//.test(proxy)) return proxy.replace(/\/+$/, '');
  if (/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d+$/.test(proxy)) return `http://${proxy}`;
  const admins = (state?.components ?? []).flatMap((c) => {
    const admin = c.ports.find((p) => p.name === 'admin');
    return admin ? [{ name: c.name, admin }] : [];
  });
  const id = parseProxyId(proxy);
  const names = [proxy, ...(id ? [`sidecar-${id.workload}`, id.workload] : [])];
  const byName = names.map((n) => admins.find((a) => a.name === n)).find((a) => a !== undefined);
  const byIp = id ? admins.filter((a) => a.admin.host === id.ip) : [];
  const found = byName ?? (byIp.length === 1 ? byIp[0] : undefined);
  if (found) return `http://${hostPort(found.admin)}`;
  throw errors.create('PROXY_UNKNOWN', { proxy, known: admins.map((a) => a.name) });
}
