/**
 * Bookinfo through the mesh, on one machine without iptables: every workload gets its own loopback
 * addresses (Linux routes all of 127/8) and its own sidecar, and the ingress gateway is the sidecar
 * binary with a router~ id. Per workload (offset o):
 *
 *   127.0.0.(11+o):9080   the sidecar's inbound listener (the WorkloadEntry address and service port),
 *                         forwarding to the app on <host>:<app port>
 *   127.0.1.(11+o):9080   the sidecar's outbound listener (Sidecar egress, captureMode NONE): the app
 *                         calls its callees here with Host <service>:9080, as an app in Kubernetes does
 *                         and the sidecar routes by it
 *   127.0.0.(11+o):15000  the sidecar's admin (/config_dump, /stats/prometheus)
 *
 * so a call goes caller app -> caller sidecar -> callee sidecar -> callee app. Pilot learns all of this
 * from generated YAML (ServiceEntry, WorkloadEntry and Sidecar per workload), written into its watched
 * config directory next to the gateway and the DestinationRules.
 */
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import type { ComponentSpec } from './component';
import { BOOKINFO_CALLS, BOOKINFO_WORKLOADS, workloadName, type BookinfoService, type Workload } from './topology-bookinfo';

/** Istio's Bookinfo service port; every service uses it, on each workload's own address. */
export const SERVICE_PORT = 9080;
export const ADMIN_PORT = 15000;
const NAMESPACE = 'default';
/** The gateway's own address for its admin port (its listener is on the --host address). */
export const GATEWAY_ADMIN_IP = '127.0.0.10';

export const inboundIp = (w: Workload): string => `127.0.0.${11 + w.offset}`;
export const outboundIp = (w: Workload): string => `127.0.1.${11 + w.offset}`;
export const serviceHost = (s: BookinfoService): string => `${s}.${NAMESPACE}.svc.cluster.local`;

export interface SidecarContext {
  root: string;
  host: string;
  /** Pilot's xDS address host:port. */
  xdsAddress: string;
  gatewayPort: number;
  /** App port of each workload, by workload name. */
  appPorts: ReadonlyMap<string, number>;
  /** When Citadel runs: its gRPC address and CA directory; each proxy then gets a workload certificate (mTLS). */
  citadel?: { address: string; caDir: string; tokenDir: string };
}

/**
 * The command that starts one proxy. With Citadel, a shell first asks Citadel's CLI for the proxy's
 * bearer token (`citadel issue-token`, needs the CA directory Citadel created when it started), writes it
 * to <tokenDir>/<service account>, then execs the sidecar (same pid) with the node agent's flags.
 */
function proxyCommand(ctx: SidecarContext, serviceAccount: string, nodeId: string, labels: string, admin: string, extra: string[]): Pick<ComponentSpec, 'command' | 'args'> {
  const sidecar = [
    join(ctx.root, 'dist/apps/sidecar/main.js'),
    '--xds-address', ctx.xdsAddress,
    '--node-id', nodeId,
    '--namespace', NAMESPACE,
    '--labels', labels,
    '--admin-address', admin,
    '--service-account', serviceAccount,
    ...extra,
  ];
  if (!ctx.citadel) return { command: process.execPath, args: sidecar };
  const token = join(ctx.citadel.tokenDir, serviceAccount);
  const agent = ['--ca-address', ctx.citadel.address, '--ca-root-cert', join(ctx.citadel.caDir, 'root-cert.pem'), '--token-path', token];
  // Positional parameters, so no path is ever parsed by the shell: $1 node, $2 citadel main, $3 CA dir, $4 SA, $5 token file.
  const script = 'T=$("$1" "$2" issue-token --ca-dir "$3" --namespace default --service-account "$4") || exit 1; ' +
    'printf "%s\\n" "$T" | tail -n 1 > "$5" || exit 1; shift 5; exec "$@"';
  return {
    command: '/bin/sh',
    args: ['-c', script, 'sh', process.execPath, join(ctx.root, 'dist/apps/citadel/main.js'), ctx.citadel.caDir, serviceAccount, token, process.execPath, ...sidecar, ...agent],
  };
}

/** One sidecar per workload: ready once its inbound listener (pushed by Pilot) accepts connections. */
export function sidecarComponents(ctx: SidecarContext): ComponentSpec[] {
  return BOOKINFO_WORKLOADS.map((w) => {
    const name = workloadName(w);
    const ip = inboundIp(w);
    return {
      name: `sidecar-${name}`,
      role: 'sidecar',
      ...proxyCommand(ctx, `bookinfo-${w.service}`, `sidecar~${ip}~${name}.${NAMESPACE}~${NAMESPACE}.svc.cluster.local`, `app=${w.service},version=${w.version}`, `${ip}:${ADMIN_PORT}`, [
        '--interception-mode', 'NONE',
      ]),
      cwd: ctx.root,
      ports: [
        { name: 'admin', host: ip, port: ADMIN_PORT },
        { name: 'inbound', host: ip, port: SERVICE_PORT },
        { name: 'outbound', host: outboundIp(w), port: SERVICE_PORT },
      ],
      ready: { tcp: `${ip}:${SERVICE_PORT}` },
      after: ['pilot'],
      links: [{ label: `${name} sidecar admin`, url: `http://${ip}:${ADMIN_PORT}/` }],
    };
  });
}

/** The ingress gateway: ready once the product page answers through it (so the whole chain works). */
export function gatewayComponent(ctx: SidecarContext, after: string[]): ComponentSpec {
  const base = `http://${ctx.host}:${ctx.gatewayPort}`;
  return {
    name: 'ingress-gateway',
    role: 'gateway',
    ...proxyCommand(
      ctx,
      'istio-ingressgateway-service-account',
      `router~${GATEWAY_ADMIN_IP}~istio-ingressgateway.${NAMESPACE}~${NAMESPACE}.svc.cluster.local`,
      'istio=ingressgateway,app=istio-ingressgateway',
      `${GATEWAY_ADMIN_IP}:${ADMIN_PORT}`,
      ['--concurrency', '1'],
    ),
    cwd: ctx.root,
    ports: [
      { name: 'http', host: ctx.host, port: ctx.gatewayPort },
      { name: 'admin', host: GATEWAY_ADMIN_IP, port: ADMIN_PORT },
    ],
    ready: { http: `${base}/productpage` },
    after,
    links: [
      { label: 'Product page (through the ingress gateway)', url: `${base}/productpage` },
      { label: 'ingress gateway admin', url: `http://${GATEWAY_ADMIN_IP}:${ADMIN_PORT}/` },
    ],
  };
}

/** How a workload's app reaches each callee: its own sidecar's outbound listener, with the callee's Host. */
export function meshUpstreamFlags(w: Workload): string[] {
  return BOOKINFO_CALLS[w.service].flatMap((svc) => [
    `--${svc}-address`, `${outboundIp(w)}:${SERVICE_PORT}`,
    // The short name, as Bookinfo in Kubernetes calls http://reviews:9080: Pilot lists it among the virtual
    // host's domains for proxies in the service's namespace.
    `--${svc}-host`, `${svc}:${SERVICE_PORT}`,
  ]);
}

/** Pilot's view of the workloads: ServiceEntry per service, WorkloadEntry and Sidecar per workload. */
export function meshRegistryYaml(host: string, appPorts: ReadonlyMap<string, number>): string {
  const services = [...new Set(BOOKINFO_WORKLOADS.map((w) => w.service))];
  const docs: object[] = [];
  for (const s of services) {
    docs.push({
      apiVersion: 'networking.istio.io/v1alpha3',
      kind: 'ServiceEntry',
      metadata: { name: s, namespace: NAMESPACE },
      spec: {
        hosts: [serviceHost(s)],
        location: 'MESH_INTERNAL',
        resolution: 'STATIC',
        ports: [{ number: SERVICE_PORT, name: 'http', protocol: 'HTTP' }],
        workloadSelector: { labels: { app: s } },
      },
    });
  }
  for (const w of BOOKINFO_WORKLOADS) {
    const name = workloadName(w);
    const labels = { app: w.service, version: w.version };
    docs.push({
      apiVersion: 'networking.istio.io/v1alpha3',
      kind: 'WorkloadEntry',
      metadata: { name, namespace: NAMESPACE },
      spec: { address: inboundIp(w), ports: { http: SERVICE_PORT }, labels, serviceAccount: `bookinfo-${w.service}` },
    });
    const callees = BOOKINFO_CALLS[w.service];
    docs.push({
      apiVersion: 'networking.istio.io/v1alpha3',
      kind: 'Sidecar',
      metadata: { name, namespace: NAMESPACE },
      spec: {
        workloadSelector: { labels },
        ingress: [
          {
            port: { number: SERVICE_PORT, name: 'http', protocol: 'HTTP' },
            bind: inboundIp(w),
            defaultEndpoint: `${host}:${appPorts.get(name)}`,
          },
        ],
        egress: [
          {
            port: { number: SERVICE_PORT, name: 'http', protocol: 'HTTP' },
            bind: outboundIp(w),
            captureMode: 'NONE',
            // details and ratings call nobody; their egress still needs a host, their own service.
            hosts: (callees.length > 0 ? callees : [w.service]).map((s) => `./${serviceHost(s)}`),
          },
        ],
      },
    });
  }
  const header = [
    '# Generated by tools/local-mesh (topology-sidecars.ts) for this run: where each Bookinfo workload and its',
    '# sidecar listen on this machine. Inbound: the WorkloadEntry address, port 9080, forwarded to the app;',
    '# outbound: the Sidecar egress listener (captureMode NONE) the app calls with Host <service>:9080.',
  ];
  return header.join('\n') + '\n' + docs.map((d) => stringify(d)).join('---\n');
}

/** The sample's Gateway YAML with each server on the --gateway-port port, bound to the --host address. */
export function gatewayYaml(text: string, host: string, port: number): string {
  const docs = parseAllDocuments(text).map((d) => d.toJS() as { kind?: string; spec?: { servers?: { port: { number: number }; bind?: string }[] } });
  for (const d of docs) {
    if (d.kind !== 'Gateway') continue;
    for (const server of d.spec?.servers ?? []) {
      server.port.number = port;
      server.bind = host;
    }
  }
  return '# tools/local-mesh: samples/bookinfo/networking/bookinfo-gateway.yaml on --host and --gateway-port\n' + docs.map((d) => stringify(d)).join('---\n');
}

/**
 * With Citadel: the sample's DestinationRules with `tls.mode: ISTIO_MUTUAL` (Istio's
 * destination-rule-all-mtls.yaml), so every sidecar and the gateway call each other over mutual TLS.
 * A task's DestinationRule that replaces one of them (the circuit breaker) brings plaintext back for
 * that host, which the default PERMISSIVE inbound accepts (Pilot has no auto-mTLS).
 */
export function mtlsDestinationRules(text: string): string {
  const docs = parseAllDocuments(text).map((d) => d.toJS() as { kind?: string; spec?: { trafficPolicy?: Record<string, unknown> } });
  for (const d of docs) {
    if (d.kind !== 'DestinationRule' || !d.spec) continue;
    d.spec.trafficPolicy = { ...d.spec.trafficPolicy, tls: { mode: 'ISTIO_MUTUAL' } };
  }
  return '# tools/local-mesh: samples/bookinfo/networking/destination-rule-all.yaml with tls.mode ISTIO_MUTUAL (Citadel runs)\n' + docs.map((d) => stringify(d)).join('---\n');
}

/** details accepts only mutual TLS (STRICT): a plaintext call that skips the caller's sidecar is refused. */
export const DETAILS_STRICT_YAML = stringify({
  apiVersion: 'security.istio.io/v1beta1',
  kind: 'PeerAuthentication',
  metadata: { name: 'details-strict', namespace: NAMESPACE },
  spec: { selector: { matchLabels: { app: 'details' } }, mtls: { mode: 'STRICT' } },
});
