import type { FlagSpecs } from '@mesh/runtime';

/**
 * Every flag and environment variable the sidecar reads. Flags win over the environment; the environment
 * variables are the ones Istio's agent sets in an injected pod (POD_NAME, POD_NAMESPACE, INSTANCE_IP,
 * SERVICE_ACCOUNT, ISTIO_META_*), so the same binary runs from a command line or from a pod spec.
 */
export const flags = {
  'xds-address': {
    kind: 'address',
    description: 'Pilot xDS address (ADS over plaintext gRPC)',
    default: '127.0.0.1:15010',
    env: 'PILOT_ADDRESS',
  },
  'node-id': {
    kind: 'string',
    description: 'proxy id <type>~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local; type sidecar or router (gateway). Derived from the pod environment when absent',
  },
  namespace: { kind: 'string', description: 'namespace of the workload (node metadata NAMESPACE)', env: 'POD_NAMESPACE' },
  'pod-name': { kind: 'string', description: 'pod name (node metadata NAME)', env: 'POD_NAME' },
  'instance-ip': { kind: 'string', description: 'workload IP (node metadata INSTANCE_IPS)', env: 'INSTANCE_IP' },
  'service-account': { kind: 'string', description: 'service account (node metadata SERVICE_ACCOUNT)', env: 'SERVICE_ACCOUNT' },
  labels: {
    kind: 'list',
    description: 'workload labels k=v,k2=v2 (node metadata LABELS); env ISTIO_METAJSON_LABELS (JSON) is used when absent',
  },
  'interception-mode': {
    kind: 'string',
    description: 'how traffic reaches the proxy (node metadata INTERCEPTION_MODE)',
    default: 'REDIRECT',
    env: 'ISTIO_META_INTERCEPTION_MODE',
    choices: ['REDIRECT', 'TPROXY', 'NONE'],
  },
  'cluster-id': { kind: 'string', description: 'mesh cluster id (node metadata CLUSTER_ID)', default: 'Kubernetes', env: 'ISTIO_META_CLUSTER_ID' },
  'admin-address': { kind: 'address', description: 'admin server address (/config_dump, /stats, /ready ...)', default: '127.0.0.1:15000' },
  concurrency: {
    kind: 'int',
    description: 'worker processes sharing the listeners (default 1 for a sidecar, 2 for a router/gateway)',
    env: 'ISTIO_META_CONCURRENCY',
  },
  'drain-duration': { kind: 'duration', description: 'how long a removed listener (or /quitquitquit) lets in-flight requests finish', default: '5s' },
  'access-log': {
    kind: 'string',
    description: 'JSON access log file ("/dev/stdout" for stdout); off when empty',
    default: '',
    env: 'MESH_ACCESS_LOG',
  },
  'ca-address': {
    kind: 'address',
    description: 'Citadel gRPC address; when set, the node agent obtains and rotates the workload certificate (mutual TLS)',
    env: 'CA_ADDR',
  },
  'ca-root-cert': { kind: 'string', description: "PEM file with the root(s) Citadel's serving certificate chains to (the mesh root)", default: './var/run/secrets/istio/root-cert.pem' },
  'ca-server-name': { kind: 'string', description: "name to verify in Citadel's serving certificate (default: the host of --ca-address)" },
  'token-path': { kind: 'string', description: 'file holding the bearer token presented to Citadel (re-read for every request)', default: './var/run/secrets/tokens/istio-token' },
  'trust-domain': { kind: 'string', description: 'SPIFFE trust domain of the workload identity', default: 'cluster.local', env: 'TRUST_DOMAIN' },
  'workload-cert-ttl': { kind: 'duration', description: 'requested workload certificate lifetime', default: '24h', env: 'SECRET_TTL' },
  'sds-socket': { kind: 'string', description: 'Unix socket on which the node agent serves SDS (default, ROOTCA) for a co-located Envoy; off when empty', default: '' },
} satisfies FlagSpecs;

/** The part of the environment that is a set rather than one variable: Istio's ISTIO_META_* metadata. */
export interface AgentEnv {
  /** ISTIO_META_FOO=bar becomes FOO: "bar" (Istio's agent does the same). */
  meta: Record<string, string>;
  /** ISTIO_METAJSON_LABELS, raw JSON text. */
  labelsJson: string | undefined;
}

export function readAgentEnv(env: NodeJS.ProcessEnv = process.env): AgentEnv {
  const meta: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith('ISTIO_META_') && value !== undefined) meta[key.slice('ISTIO_META_'.length)] = value;
  }
  return { meta, labelsJson: env.ISTIO_METAJSON_LABELS };
}

export const usageInfo = {
  command: 'node dist/apps/sidecar/main.js [flags]',
  summary: "Sidecar: the mesh's data-plane proxy (HTTP/1.1, HTTP/2, gRPC, TCP), configured only by xDS; also the ingress/egress gateway.",
  sections: [
    'Example: node dist/apps/sidecar/main.js --xds-address 127.0.0.1:15010 --node-id sidecar~127.0.0.1~client-1.default~default.svc.cluster.local --namespace default --labels app=client,version=v1 --admin-address 127.0.0.1:15000',
  ],
};
