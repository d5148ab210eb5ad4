/**
 * The topology `npm start` runs: the mesh components whose binaries work, then Bookinfo. Ports are fixed
 * (Istio's, and Bookinfo's from --base-port) or, with --free-ports, picked free. A --topology file
 * replaces all of it.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Topology } from './component';
import { validateTopology } from './component';
import { errors } from './errors';
import { freePort } from './ports';
import { BOOKINFO_WORKLOADS, bookinfoComponents, workloadName } from './topology-bookinfo';
import { meshComponents } from './topology-mesh';

export interface TopologyOptions {
  root: string;
  host: string;
  basePort: number;
  gatewayPort: number;
  freePorts: boolean;
  stateDir: string;
  skip: string[];
}

export function loadTopologyFile(file: string): Topology {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw errors.create('TOPOLOGY_UNREADABLE', { file, reason: (err as Error).message });
  }
  const result = validateTopology(parsed);
  if (!result.ok) throw errors.create('TOPOLOGY_INVALID', { file, errors: result.errors });
  return result.value;
}

/** Files a started component needs before it starts: Pilot's config directory holds the Bookinfo registry and base config. */
function prepareState(o: TopologyOptions, names: readonly string[]): void {
  if (names.includes('citadel')) mkdirSync(join(o.stateDir, 'ca'), { recursive: true });
  if (names.includes('pilot')) {
    const config = join(o.stateDir, 'config');
    mkdirSync(config, { recursive: true });
    const sample = join(o.root, 'samples/bookinfo');
    for (const f of ['registry/bookinfo-workloads.yaml', 'networking/destination-rule-all.yaml', 'networking/bookinfo-gateway.yaml']) {
      copyFileSync(join(sample, f), join(config, f.split('/')[1]));
    }
  }
}

export async function buildTopology(o: TopologyOptions): Promise<Topology> {
  const port = async (fixed: number) => (o.freePorts ? freePort(o.host) : fixed);
  const ports = new Map<string, number>();
  for (const w of BOOKINFO_WORKLOADS) ports.set(workloadName(w), await port(o.basePort + w.offset));
  const meshPorts = new Map<number, number>();
  for (const fixed of [8060, 15015, 9901, 15010, 15014, 9091]) meshPorts.set(fixed, await port(fixed));
  mkdirSync(o.stateDir, { recursive: true });
  const mesh = await meshComponents(
    { root: o.root, host: o.host, stateDir: o.stateDir, port: (fixed) => meshPorts.get(fixed) ?? fixed },
    o.skip,
  );
  const workloads = bookinfoComponents({ root: o.root, host: o.host, ports }).filter((c) => !o.skip.includes(c.name));
  const components = [...mesh.components, ...workloads];
  prepareState(o, components.map((c) => c.name));
  const running = new Set(components.map((c) => c.name));
  const notes: string[] = [];
  if (!running.has('sidecar')) {
    notes.push(
      `Without sidecars, Bookinfo calls itself directly (productpage -> details/reviews -> ratings); the gateway URL will be http://${o.host}:${o.gatewayPort}/productpage.`,
    );
  }
  notes.push(
    running.has('pilot')
      ? `Traffic tasks: copy a file from samples/bookinfo/networking/ into ${join(o.stateDir, 'config')} (meshctl apply -f is not built yet).`
      : 'Traffic tasks (samples/bookinfo/networking/*.yaml) need Pilot and the sidecars, which are not running yet.',
  );
  return { components, skipped: mesh.skipped, notes };
}
