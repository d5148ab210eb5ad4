import type { FlagSpecs } from '@mesh/runtime';

/** Every flag and environment variable citadel reads (all commands share one table). */
export const flags = {
  'ca-dir': {
    kind: 'string',
    description: 'directory with the CA material (self-signed: ca-cert.pem, ca-key.pem; plugged-in: also root-cert.pem, cert-chain.pem)',
    env: 'CITADEL_CA_DIR',
    required: true,
  },
  'grpc-address': {
    kind: 'address',
    description: 'serve: IstioCertificateService over TLS (port 0 picks a free port)',
    default: '127.0.0.1:8060',
    env: 'CITADEL_GRPC_ADDRESS',
  },
  'monitoring-address': {
    kind: 'address',
    description: 'serve: HTTP for /metrics, /ready and /root-cert.pem',
    default: '127.0.0.1:15014',
    env: 'CITADEL_MONITORING_ADDRESS',
  },
  'trust-domain': { kind: 'string', description: 'SPIFFE trust domain of issued identities', default: 'cluster.local', env: 'TRUST_DOMAIN' },
  'workload-cert-ttl': { kind: 'duration', description: 'lifetime of a workload certificate when the request asks for none', default: '24h', env: 'DEFAULT_WORKLOAD_CERT_TTL' },
  'max-workload-cert-ttl': { kind: 'duration', description: 'longest workload certificate lifetime a request may ask for', default: '90d', env: 'MAX_WORKLOAD_CERT_TTL' },
  'self-signed-root-ttl': { kind: 'duration', description: 'lifetime of a generated self-signed root', default: '3650d', env: 'CITADEL_SELF_SIGNED_CA_CERT_TTL' },
  'ca-key-type': {
    kind: 'string',
    description: 'key of a generated self-signed root (first start, rotate-root); an EC key signs far faster than RSA (see README, Performance)',
    default: 'rsa-2048',
    choices: ['rsa-2048', 'rsa-3072', 'ec-p256', 'ec-p384'],
    env: 'CITADEL_CA_KEY_TYPE',
  },
  'root-expiry-warning': { kind: 'duration', description: 'serve: log a warning when the signing root expires within this time', default: '365d' },
  'ca-reload-interval': { kind: 'duration', description: 'serve: how often the CA files are checked for a rotation or replacement', default: '10s' },
  'dns-names': { kind: 'list', description: 'serve: extra DNS names in the CA serving certificate', default: 'istiod.istio-system.svc,istio-citadel.istio-system.svc' },
  namespace: { kind: 'string', description: 'issue-token: namespace of the identity' },
  'service-account': { kind: 'string', description: 'issue-token: service account of the identity' },
  ttl: { kind: 'duration', description: 'issue-token: token lifetime', default: '24h' },
  overlap: {
    kind: 'duration',
    description: 'rotate-root: how long the old root stays in the distributed bundle (at least the longest lifetime of certificates it issued)',
    default: '90d',
  },
} satisfies FlagSpecs;

export const usageInfo = {
  command: 'node dist/apps/citadel/main.js [serve|issue-token|rotate-root] [flags]',
  summary: 'Citadel: the mesh CA. Signs SPIFFE workload certificates over istio.v1.auth.IstioCertificateService (gRPC over TLS).',
  sections: [
    [
      'Commands:',
      '  serve (default)  --ca-dir DIR --grpc-address 127.0.0.1:8060 --monitoring-address 127.0.0.1:15014 [--trust-domain D] [--workload-cert-ttl 24h]',
      '  issue-token      --ca-dir DIR --namespace NS --service-account SA [--ttl 24h]   prints a bearer token (last line)',
      '  rotate-root      --ca-dir DIR [--overlap 90d]   new self-signed root; the old one stays trusted in root-cert.pem for the overlap',
    ].join('\n'),
    'Files in --ca-dir: ca-cert.pem + ca-key.pem (self-signed root, generated on first start and never regenerated),\n' +
      'or ca-cert.pem + ca-key.pem + cert-chain.pem + root-cert.pem (plugged-in intermediate). root-cert.pem is the\n' +
      'distributed trust bundle; token-key signs local bearer tokens; previous-roots.json lists roots still trusted.',
  ],
};
