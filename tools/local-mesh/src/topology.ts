/**
 * The topology `npm start` runs: the mesh components whose binaries work, then Bookinfo. Ports are fixed
 * (Istio's, and Bookinfo's from --base-port) or, with --free-ports, picked free. A --topology file
 * replaces all of it.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Topology } from './component';
import { validateTopology } from './component';
import { errors } from './errors';
import { freePort } from '@mesh/runtime';
import { BOOKINFO_WORKLOADS, bookinfoComponents, workloadName } from './topology-bookinfo';
import { meshComponents } from './topology-mesh';
import { DETAILS_STRICT_YAML, gatewayComponent, gatewayYaml, meshRegistryYaml, meshUpstreamFlags, mtlsDestinationRules, sidecarComponents } from './topology-sidecars';

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

/**
 * Files a started component needs before it starts: Pilot's config directory holds the Bookinfo
 * registry (generated for the sidecars' addresses when they run), the DestinationRules and the gateway.
 */
function prepareState(o: TopologyOptions, names: readonly string[], appPorts: ReadonlyMap<string, number>, withSidecars: boolean): void {
  const mtls = withSidecars && names.includes('citadel');
  if (names.includes('citadel')) mkdirSync(join(o.stateDir, 'ca'), { recursive: true });
  if (mtls) mkdirSync(join(o.stateDir, 'tokens'), { recursive: true });
  if (names.includes('pilot')) {
    const config = join(o.stateDir, 'config');
    mkdirSync(config, { recursive: true });
    const sample = join(o.root, 'samples/bookinfo');
    const rules = readFileSync(join(sample, 'networking/destination-rule-all.yaml'), 'utf8');
    writeFileSync(join(config, 'destination-rule-all.yaml'), mtls ? mtlsDestinationRules(rules) : rules);
    if (mtls) writeFileSync(join(config, 'peer-authentication-details.yaml'), DETAILS_STRICT_YAML);
    const gateway = readFileSync(join(sample, 'networking/bookinfo-gateway.yaml'), 'utf8');
    writeFileSync(join(config, 'bookinfo-gateway.yaml'), gatewayYaml(gateway, o.host, o.gatewayPort));
    if (withSidecars) writeFileSync(join(config, 'bookinfo-workloads.yaml'), meshRegistryYaml(o.host, appPorts));
    else copyFileSync(join(sample, 'registry/bookinfo-workloads.yaml'), join(config, 'bookinfo-workloads.yaml'));
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
  const pilot = mesh.components.find((c) => c.name === 'pilot');
  const withSidecars = pilot !== undefined && mesh.perWorkload.includes('sidecar') && !o.skip.includes('sidecar');
  const workloads = bookinfoComponents({ root: o.root, host: o.host, ports, meshUpstreams: withSidecars ? meshUpstreamFlags : undefined }).filter(
    (c) => !o.skip.includes(c.name),
  );
  const proxies: typeof workloads = [];
  if (withSidecars) {
    const citadel = mesh.components.some((c) => c.name === 'citadel')
      ? { address: `${o.host}:${meshPorts.get(8060)}`, caDir: join(o.stateDir, 'ca'), tokenDir: join(o.stateDir, 'tokens') }
      : undefined;
    const ctx = { root: o.root, host: o.host, xdsAddress: `${o.host}:${meshPorts.get(15010)}`, gatewayPort: o.gatewayPort, appPorts: ports, citadel };
    const sidecars = sidecarComponents(ctx);
    proxies.push(...sidecars, gatewayComponent(ctx, [...sidecars, ...workloads].map((c) => c.name)));
  }
  const components = [...mesh.components, ...workloads, ...proxies];
  prepareState(o, components.map((c) => c.name), ports, withSidecars);
  const notes: string[] = [];
  // meshctl finds the running mesh in tmp/local-mesh/state by default; elsewhere it needs --state-dir.
  const stateFlag = resolve(o.stateDir) === resolve(o.root, 'tmp/local-mesh/state') ? '' : ` --state-dir ${o.stateDir}`;
  const skipped = [...mesh.skipped];
  if (withSidecars) {
    if (components.some((c) => c.name === 'citadel')) {
      notes.push(
        'Mutual TLS: every proxy gets its certificate from Citadel; DestinationRules say ISTIO_MUTUAL; details is STRICT (peer-authentication-details.yaml), the others PERMISSIVE.',
      );
    }
    notes.push(
      `Every call goes app -> its sidecar (127.0.1.x:9080) -> the callee's sidecar (127.0.0.x:9080) -> the callee app; users enter at http://${o.host}:${o.gatewayPort}/productpage.`,
    );
  } else {
    skipped.push({ name: 'sidecar', reason: pilot ? 'skipped with --skip' : 'needs Pilot, which is not running' });
    notes.push(`Without sidecars, Bookinfo calls itself directly (productpage -> details/reviews -> ratings).`);
  }
  notes.push(
    pilot
      ? `Traffic tasks: npx meshctl apply -f samples/bookinfo/networking/virtual-service-all-v1.yaml${stateFlag} (writes into ${join(o.stateDir, 'config')}); npx meshctl status${stateFlag}; npx meshctl delete -f FILE${stateFlag}.`
      : 'Traffic tasks (samples/bookinfo/networking/*.yaml) need Pilot and the sidecars, which are not running.',
  );
  return { components, skipped, notes };
}
