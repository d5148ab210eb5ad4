/**
 * The mesh's own components, as data: how each is started (its planned flags, Istio's ports) and how
 * readiness is seen. A component runs only if its built binary works: `node dist/apps/<app>/main.js
 * --help` must exist and must not say NOT IMPLEMENTED; otherwise it is listed as skipped, with why.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ComponentSpec, Readiness, Skipped } from './component';

export interface MeshContext {
  root: string;
  host: string;
  /** Directory for component state (CA files, Pilot's watched config directory). */
  stateDir: string;
  /** The port to use for a component port whose Istio default is `fixed`. */
  port(fixed: number): number;
}

interface MeshApp {
  app: string;
  role: string;
  /** Why it is never started here, whatever its state (e.g. it needs Kubernetes). */
  never?: string;
  /** Why a working binary is still not started (local-mesh does not wire it yet). */
  notWired?: string;
  /** Started once per workload by another topology file (the sidecar); here only probed. */
  perWorkload?: boolean;
  ports?: (ctx: MeshContext) => { name: string; port: number }[];
  args?: (ctx: MeshContext, ports: Record<string, number>) => string[];
  /** How readiness is seen; default: the first port accepts TCP connections. */
  ready?: (host: string, ports: Record<string, number>) => Readiness;
  /** Admin/debug URLs for the summary. */
  links?: (host: string, ports: Record<string, number>) => { label: string; url: string }[];
  after?: string[];
}

/** Start order follows `after`: Citadel, then Pilot and Galley, then Mixer; sidecars and the gateway slot in last. */
export const MESH_APPS: readonly MeshApp[] = [
  {
    app: 'citadel',
    role: 'control-plane',
    ports: (c) => [
      { name: 'grpc', port: c.port(8060) },
      { name: 'monitoring', port: c.port(15015) },
    ],
    args: (c, p) => ['--ca-dir', join(c.stateDir, 'ca'), '--grpc-address', `${c.host}:${p.grpc}`, '--monitoring-address', `${c.host}:${p.monitoring}`],
    ready: (h, p) => ({ http: `http://${h}:${p.monitoring}/ready` }),
    links: (h, p) => [
      { label: 'Citadel metrics', url: `http://${h}:${p.monitoring}/metrics` },
      { label: 'Citadel root certificate', url: `http://${h}:${p.monitoring}/root-cert.pem` },
    ],
  },
  {
    app: 'galley',
    role: 'control-plane',
    ports: (c) => [{ name: 'mcp', port: c.port(9901) }],
    args: (c, p) => ['--mcp-address', `${c.host}:${p.mcp}`],
  },
  {
    app: 'pilot',
    role: 'control-plane',
    ports: (c) => [
      { name: 'xds', port: c.port(15010) },
      { name: 'debug', port: c.port(15014) },
    ],
    args: (c, p) => ['--config-dir', join(c.stateDir, 'config'), '--xds-address', `${c.host}:${p.xds}`, '--debug-address', `${c.host}:${p.debug}`],
    ready: (h, p) => ({ http: `http://${h}:${p.debug}/ready` }),
    links: (h, p) => [
      { label: 'Pilot sync state', url: `http://${h}:${p.debug}/debug/syncz` },
      { label: 'Pilot registry', url: `http://${h}:${p.debug}/debug/registryz` },
    ],
    after: ['citadel'],
  },
  {
    app: 'mixer',
    role: 'control-plane',
    ports: (c) => [{ name: 'grpc', port: c.port(9091) }],
    args: (c, p) => ['--grpc-address', `${c.host}:${p.grpc}`],
  },
  {
    app: 'sidecar',
    role: 'data-plane',
    perWorkload: true,
  },
  { app: 'injector', role: 'control-plane', never: 'a Kubernetes admission webhook; a local mesh has no Kubernetes' },
];

export type Probe = { ok: true } | { ok: false; reason: string };

/** Runs `node dist/apps/<app>/main.js --help` (bounded) and reads whether the app says it is implemented. */
export function probeApp(root: string, app: string): Promise<Probe> {
  const main = join(root, 'dist/apps', app, 'main.js');
  if (!existsSync(main)) return Promise.resolve({ ok: false, reason: `not built (${join('dist/apps', app, 'main.js')} is missing)` });
  return new Promise((resolve) => {
    execFile(process.execPath, [main, '--help'], { timeout: 15_000, cwd: root }, (err, stdout, stderr) => {
      const text = `${stdout}${stderr}`;
      if (/NOT IMPLEMENTED/.test(text)) resolve({ ok: false, reason: `NOT IMPLEMENTED yet (says node dist/apps/${app}/main.js --help)` });
      else if (err) resolve({ ok: false, reason: `--help failed: ${err.message.split('\n')[0]}` });
      else resolve({ ok: true });
    });
  });
}

/**
 * probeApp with a cache in <stateDir>/probes.json keyed by the binary's size and mtime: `--help` of a
 * bundle that loads protos costs seconds, and the answer only changes when the binary is rebuilt.
 */
export async function probeAppCached(root: string, app: string, stateDir: string): Promise<Probe> {
  const main = join(root, 'dist/apps', app, 'main.js');
  if (!existsSync(main)) return probeApp(root, app);
  const file = join(stateDir, 'probes.json');
  const { size, mtimeMs } = statSync(main);
  const key = `${size}:${mtimeMs}`;
  let cache: Record<string, { key: string; probe: Probe }> = {};
  try {
    cache = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    // no cache yet, or unreadable: probe afresh
  }
  if (cache[app]?.key === key) return cache[app].probe;
  const probe = await probeApp(root, app);
  try {
    cache = { ...JSON.parse(existsSync(file) ? readFileSync(file, 'utf8') : '{}'), [app]: { key, probe } };
    writeFileSync(file, JSON.stringify(cache, null, 2) + '\n');
  } catch {
    // a cache that cannot be written only costs time
  }
  return probe;
}

/** `perWorkload` lists the per-workload apps (the sidecar) whose binary works; the caller starts them. */
export async function meshComponents(
  ctx: MeshContext,
  skip: readonly string[],
): Promise<{ components: ComponentSpec[]; skipped: Skipped[]; perWorkload: string[] }> {
  const probes = await Promise.all(MESH_APPS.map((m) => (m.never || skip.includes(m.app) ? undefined : probeAppCached(ctx.root, m.app, ctx.stateDir))));
  const components: ComponentSpec[] = [];
  const skipped: Skipped[] = [];
  const perWorkload: string[] = [];
  MESH_APPS.forEach((m, i) => {
    const probe = probes[i];
    if (m.never) return skipped.push({ name: m.app, reason: m.never });
    if (!probe) return skipped.push({ name: m.app, reason: 'skipped with --skip' });
    if (!probe.ok) return skipped.push({ name: m.app, reason: probe.reason });
    if (m.perWorkload) return perWorkload.push(m.app);
    if (m.notWired || !m.ports || !m.args) return skipped.push({ name: m.app, reason: m.notWired ?? 'no start recipe' });
    const ports = m.ports(ctx);
    const byName = Object.fromEntries(ports.map((p) => [p.name, p.port]));
    components.push({
      name: m.app,
      role: m.role,
      command: process.execPath,
      args: [join(ctx.root, 'dist/apps', m.app, 'main.js'), ...m.args(ctx, byName)],
      cwd: ctx.root,
      ports: ports.map((p) => ({ ...p, host: ctx.host })),
      ready: m.ready ? m.ready(ctx.host, byName) : { tcp: `${ctx.host}:${ports[0].port}` },
      after: m.after,
      links: m.links ? m.links(ctx.host, byName) : [],
    });
    return undefined;
  });
  return { components, skipped, perWorkload };
}
