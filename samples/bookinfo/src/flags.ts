import type { FlagSpecs } from '@mesh/runtime';

/** The four Bookinfo services; one binary, the service picked by --service. */
export const SERVICES = ['productpage', 'details', 'reviews', 'ratings'] as const;
export type ServiceName = (typeof SERVICES)[number];

export const REVIEWS_VERSIONS = ['v1', 'v2', 'v3'] as const;
export type ReviewsVersion = (typeof REVIEWS_VERSIONS)[number];

/** Every flag and environment variable Bookinfo reads. Addresses of dependencies are, in the mesh, the caller sidecar's outbound listener. */
export const flags = {
  service: {
    kind: 'string',
    description: 'which Bookinfo service this process is',
    env: 'BOOKINFO_SERVICE',
    choices: SERVICES,
    required: true,
  },
  listen: {
    kind: 'address',
    description: 'address the service listens on (port 0 picks a free port)',
    env: 'BOOKINFO_LISTEN',
    default: '127.0.0.1:9080',
  },
  version: {
    kind: 'string',
    description: 'workload version label; for reviews it picks the behaviour (v1 no stars, v2 black, v3 red)',
    env: 'BOOKINFO_VERSION',
    default: 'v1',
  },
  'service-account': {
    kind: 'string',
    description: 'service account of this workload (its mesh identity); default bookinfo-<service>',
    env: 'BOOKINFO_SERVICE_ACCOUNT',
  },
  namespace: { kind: 'string', description: 'namespace of this workload', env: 'BOOKINFO_NAMESPACE', default: 'default' },
  'details-address': {
    kind: 'list',
    description: 'productpage: details host:port (several, comma separated, are used in turn, like a Kubernetes Service without a mesh)',
    env: 'BOOKINFO_DETAILS_ADDRESS',
    default: '127.0.0.1:9081',
  },
  'reviews-address': {
    kind: 'list',
    description: 'productpage: reviews host:port (several, comma separated, are used in turn)',
    env: 'BOOKINFO_REVIEWS_ADDRESS',
    default: '127.0.0.1:9082',
  },
  'ratings-address': {
    kind: 'list',
    description: 'reviews v2/v3: ratings host:port (several, comma separated, are used in turn)',
    env: 'BOOKINFO_RATINGS_ADDRESS',
    default: '127.0.0.1:9085',
  },
  'details-host': {
    kind: 'string',
    description: 'productpage: Host header of calls to details (in the mesh: details:9080, so the caller sidecar routes by authority); default: the address called',
    env: 'BOOKINFO_DETAILS_HOST',
  },
  'reviews-host': { kind: 'string', description: 'productpage: Host header of calls to reviews (default: the address called)', env: 'BOOKINFO_REVIEWS_HOST' },
  'ratings-host': { kind: 'string', description: 'reviews v2/v3: Host header of calls to ratings (default: the address called)', env: 'BOOKINFO_RATINGS_HOST' },
  'details-timeout': { kind: 'duration', description: 'productpage: timeout of one call to details', env: 'BOOKINFO_DETAILS_TIMEOUT', default: '3s' },
  'reviews-timeout': { kind: 'duration', description: 'productpage: timeout of one call to reviews', env: 'BOOKINFO_REVIEWS_TIMEOUT', default: '3s' },
  'reviews-retries': {
    kind: 'int',
    description: 'productpage: extra attempts after a failed call to reviews',
    env: 'BOOKINFO_REVIEWS_RETRIES',
    default: '1',
  },
  'ratings-timeout': {
    kind: 'duration',
    description: 'reviews: timeout of one call to ratings',
    env: 'BOOKINFO_RATINGS_TIMEOUT',
    default: '10s',
  },
} satisfies FlagSpecs;

export const usageInfo = {
  command: 'node --import tsx samples/bookinfo/src/main.ts --service <name> [flags]',
  summary: "Bookinfo, Istio's sample application, in TypeScript: productpage -> details, productpage -> reviews (v1|v2|v3) -> ratings.",
  sections: [
    [
      'Services (GET, JSON unless noted; every service also has GET /health):',
      '  productpage  /productpage (HTML), POST /login (form user=), GET /logout, /api/v1/products, /api/v1/products/<id>[/reviews|/ratings]',
      '  details      /details/<id>',
      '  reviews      /reviews/<id>   (--version v1: no ratings; v2: black stars; v3: red stars; v2/v3 call ratings)',
      '  ratings      /ratings/<id>',
      'Tracing and routing headers (x-request-id, b3, traceparent, end-user, ...) are copied to every call a service makes.',
    ].join('\n'),
  ],
};
