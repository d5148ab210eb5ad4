/**
 * Bookinfo's workloads as data: which service and version, which port (base port + offset, the same
 * ports as samples/bookinfo/registry/bookinfo-workloads.yaml), and which services each one calls. With
 * sidecars (topology-sidecars.ts) a caller is pointed at its own sidecar's outbound listener; without,
 * at every workload of the callee directly (taken in turn, like a Kubernetes Service).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ComponentSpec } from './component';

export type BookinfoService = 'productpage' | 'details' | 'reviews' | 'ratings';

export interface Workload {
  service: BookinfoService;
  version: string;
  /** Port = base port + offset. */
  offset: number;
}

export const BOOKINFO_WORKLOADS: readonly Workload[] = [
  { service: 'productpage', version: 'v1', offset: 0 },
  { service: 'details', version: 'v1', offset: 1 },
  { service: 'reviews', version: 'v1', offset: 2 },
  { service: 'reviews', version: 'v2', offset: 3 },
  { service: 'reviews', version: 'v3', offset: 4 },
  { service: 'ratings', version: 'v1', offset: 5 },
];

/** Who calls whom (reviews v1 has the address too; it just never uses it). */
export const BOOKINFO_CALLS: Readonly<Record<BookinfoService, readonly BookinfoService[]>> = {
  productpage: ['details', 'reviews'],
  reviews: ['ratings'],
  details: [],
  ratings: [],
};

export const workloadName = (w: Workload): string => `${w.service}-${w.version}`;

export interface BookinfoContext {
  root: string;
  host: string;
  /** Port of each workload, by workload name. */
  ports: ReadonlyMap<string, number>;
  /** In the mesh: the flags that point a workload at its own sidecar (see topology-sidecars.ts); without: every callee workload directly. */
  meshUpstreams?: (w: Workload) => string[];
}

function newestMtime(dirs: string[]): number {
  let newest = 0;
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) if (f.endsWith('.ts')) newest = Math.max(newest, statSync(join(dir, f)).mtimeMs);
  }
  return newest;
}

/**
 * How to run Bookinfo: the esbuild bundle (dist/samples/bookinfo/main.js, starts in a fraction of the
 * time) when it is newer than every source it was built from, else the TypeScript through tsx.
 */
export function bookinfoEntry(root: string): string[] {
  const bundle = join(root, 'dist/samples/bookinfo/main.js');
  const sources = [join(root, 'samples/bookinfo/src'), join(root, 'libs/runtime/src')];
  if (existsSync(bundle) && statSync(bundle).mtimeMs >= newestMtime(sources)) return [bundle];
  return ['--import', 'tsx', join(root, 'samples/bookinfo/src/main.ts')];
}

export function bookinfoComponents(ctx: BookinfoContext): ComponentSpec[] {
  const entry = bookinfoEntry(ctx.root);
  const addressOf = (w: Workload) => `${ctx.host}:${ctx.ports.get(workloadName(w))}`;
  return BOOKINFO_WORKLOADS.map((w) => {
    const callees = BOOKINFO_CALLS[w.service];
    const upstreamFlags = ctx.meshUpstreams
      ? ctx.meshUpstreams(w)
      : callees.flatMap((svc) => [`--${svc}-address`, BOOKINFO_WORKLOADS.filter((x) => x.service === svc).map(addressOf).join(',')]);
    const port = ctx.ports.get(workloadName(w)) as number;
    const base = `http://${ctx.host}:${port}`;
    return {
      name: workloadName(w),
      role: 'workload',
      command: process.execPath,
      args: [
        ...entry,
        '--service', w.service,
        '--version', w.version,
        '--listen', `${ctx.host}:${port}`,
        '--service-account', `bookinfo-${w.service}`,
        ...upstreamFlags,
      ],
      cwd: ctx.root,
      ports: [{ name: 'http', host: ctx.host, port }],
      ready: { http: `${base}/health` },
      // In the mesh an app calls its own sidecar, which may come up later: no order between apps.
      after: ctx.meshUpstreams ? [] : BOOKINFO_WORKLOADS.filter((x) => callees.includes(x.service)).map(workloadName),
      links:
        w.service === 'productpage'
          ? [{ label: ctx.meshUpstreams ? 'Product page app itself (bypasses the gateway)' : 'Product page (straight to productpage; no gateway)', url: `${base}/productpage` }]
          : [],
    };
  });
}
