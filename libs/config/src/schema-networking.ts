/**
 * JSON Schemas for the networking.istio.io specs, written from Istio's documented API
 * (istio.io/latest/docs/reference/config/networking). Unknown fields are refused so a typo is reported
 * instead of silently ignored; the semantic checks that JSON Schema cannot express live in
 * schema-semantic.ts.
 */
type Schema = Record<string, unknown>;

const str: Schema = { type: 'string' };
const nonEmpty: Schema = { type: 'string', minLength: 1 };
const strMap: Schema = { type: 'object', additionalProperties: { type: 'string' } };
const port: Schema = { type: 'integer', minimum: 1, maximum: 65535 };
const duration: Schema = { type: 'string', pattern: '^\\d+(\\.\\d+)?(ms|s|m|h)$' };
const percent: Schema = { type: 'object', additionalProperties: false, properties: { value: { type: 'number', minimum: 0, maximum: 100 } } };
const stringMatch: Schema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  properties: { exact: str, prefix: str, regex: str },
};
const headerOps: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: { set: strMap, add: strMap, remove: { type: 'array', items: str } },
};
const headers: Schema = { type: 'object', additionalProperties: false, properties: { request: headerOps, response: headerOps } };
const destination: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['host'],
  properties: { host: nonEmpty, subset: str, port: { type: 'object', additionalProperties: false, properties: { number: port } } },
};
const servicePort: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['number'],
  properties: { number: port, protocol: str, name: str, targetPort: port },
};
const selector: Schema = { type: 'object', additionalProperties: false, properties: { labels: strMap } };

const httpMatch: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: str,
    uri: stringMatch,
    scheme: stringMatch,
    method: stringMatch,
    authority: stringMatch,
    headers: { type: 'object', additionalProperties: stringMatch },
    queryParams: { type: 'object', additionalProperties: stringMatch },
    withoutHeaders: { type: 'object', additionalProperties: stringMatch },
    port,
    sourceLabels: strMap,
    sourceNamespace: str,
    gateways: { type: 'array', items: str },
    ignoreUriCase: { type: 'boolean' },
  },
};

/** exportTo: `.` (own namespace), `*` (all), `~` (none) or namespace names; list checks in schema-semantic.ts. */
const exportTo: Schema = { type: 'array', items: nonEmpty };

const httpRoute: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: str,
    match: { type: 'array', items: httpMatch },
    delegate: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: nonEmpty, namespace: nonEmpty } },
    route: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['destination'],
        properties: { destination, weight: { type: 'integer', minimum: 0, maximum: 100 }, headers },
      },
    },
    redirect: {
      type: 'object',
      additionalProperties: false,
      properties: { uri: str, authority: str, port, scheme: str, redirectCode: { type: 'integer', minimum: 300, maximum: 399 } },
    },
    directResponse: {
      type: 'object',
      additionalProperties: false,
      required: ['status'],
      properties: {
        status: { type: 'integer', minimum: 200, maximum: 599 },
        body: { type: 'object', additionalProperties: false, properties: { string: str, bytes: str } },
      },
    },
    rewrite: {
      type: 'object',
      additionalProperties: false,
      properties: {
        uri: str,
        authority: str,
        uriRegexRewrite: { type: 'object', additionalProperties: false, required: ['match', 'rewrite'], properties: { match: str, rewrite: str } },
      },
    },
    timeout: duration,
    retries: {
      type: 'object',
      additionalProperties: false,
      properties: { attempts: { type: 'integer', minimum: 0 }, perTryTimeout: duration, retryOn: str, retryRemoteLocalities: { type: 'boolean' } },
    },
    fault: {
      type: 'object',
      additionalProperties: false,
      properties: {
        delay: {
          type: 'object',
          additionalProperties: false,
          required: ['fixedDelay'],
          properties: { fixedDelay: duration, percentage: percent, percent: { type: 'integer', minimum: 0, maximum: 100 } },
        },
        abort: {
          type: 'object',
          additionalProperties: false,
          properties: { httpStatus: { type: 'integer', minimum: 200, maximum: 599 }, grpcStatus: str, percentage: percent },
        },
      },
    },
    mirror: destination,
    mirrorPercentage: percent,
    mirrors: {
      type: 'array',
      items: { type: 'object', additionalProperties: false, required: ['destination'], properties: { destination, percentage: percent } },
    },
    corsPolicy: {
      type: 'object',
      additionalProperties: false,
      properties: {
        allowOrigins: { type: 'array', items: stringMatch },
        allowMethods: { type: 'array', items: str },
        allowHeaders: { type: 'array', items: str },
        exposeHeaders: { type: 'array', items: str },
        maxAge: duration,
        allowCredentials: { type: 'boolean' },
      },
    },
    headers,
  },
};

const l4Route: Schema = {
  type: 'array',
  items: { type: 'object', additionalProperties: false, required: ['destination'], properties: { destination, weight: { type: 'integer', minimum: 0, maximum: 100 } } },
};

const tcpRoute: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    match: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        properties: { port, sourceLabels: strMap, destinationSubnets: { type: 'array', items: str }, gateways: { type: 'array', items: str } },
      },
    },
    route: l4Route,
  },
};

const tlsRoute: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['match'],
  properties: {
    match: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['sniHosts'],
        properties: { sniHosts: { type: 'array', minItems: 1, items: nonEmpty }, port, destinationSubnets: { type: 'array', items: str }, sourceLabels: strMap, gateways: { type: 'array', items: str }, sourceNamespace: str },
      },
    },
    route: l4Route,
  },
};

/** `hosts` may be absent only in a delegate VirtualService (checked in schema-semantic.ts). */
export const virtualServiceSchema: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    hosts: { type: 'array', items: nonEmpty },
    gateways: { type: 'array', items: str },
    http: { type: 'array', items: httpRoute },
    tcp: { type: 'array', items: tcpRoute },
    tls: { type: 'array', items: tlsRoute },
    exportTo,
  },
};

const trafficPolicyProps: Record<string, Schema> = {
  loadBalancer: {
    type: 'object',
    additionalProperties: false,
    maxProperties: 2,
    properties: {
      simple: { enum: ['UNSPECIFIED', 'ROUND_ROBIN', 'LEAST_REQUEST', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH'] },
      consistentHash: {
        type: 'object',
        additionalProperties: false,
        properties: {
          httpHeaderName: nonEmpty,
          httpCookie: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: nonEmpty, path: str, ttl: duration } },
          useSourceIp: { type: 'boolean' },
          httpQueryParameterName: nonEmpty,
          minimumRingSize: { type: 'integer', minimum: 1 },
          ringHash: { type: 'object', additionalProperties: false, properties: { minimumRingSize: { type: 'integer', minimum: 1 } } },
        },
      },
      localityLbSetting: { type: 'object' },
      warmupDurationSecs: str,
    },
  },
  connectionPool: {
    type: 'object',
    additionalProperties: false,
    properties: {
      tcp: {
        type: 'object',
        additionalProperties: false,
        properties: { maxConnections: { type: 'integer', minimum: 0 }, connectTimeout: duration, tcpKeepalive: { type: 'object' } },
      },
      http: {
        type: 'object',
        additionalProperties: false,
        properties: {
          http1MaxPendingRequests: { type: 'integer', minimum: 0 },
          http2MaxRequests: { type: 'integer', minimum: 0 },
          maxRequestsPerConnection: { type: 'integer', minimum: 0 },
          maxRetries: { type: 'integer', minimum: 0 },
          idleTimeout: duration,
          h2UpgradePolicy: str,
        },
      },
    },
  },
  outlierDetection: {
    type: 'object',
    additionalProperties: false,
    properties: {
      consecutiveErrors: { type: 'integer', minimum: 0 },
      consecutive5xxErrors: { type: 'integer', minimum: 0 },
      consecutiveGatewayErrors: { type: 'integer', minimum: 0 },
      interval: duration,
      baseEjectionTime: duration,
      maxEjectionPercent: { type: 'integer', minimum: 0, maximum: 100 },
      minHealthPercent: { type: 'integer', minimum: 0, maximum: 100 },
    },
  },
  tls: {
    type: 'object',
    additionalProperties: false,
    properties: {
      mode: { enum: ['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'] },
      sni: str,
      caCertificates: str,
      clientCertificate: str,
      privateKey: str,
      subjectAltNames: { type: 'array', items: str },
      credentialName: str,
      insecureSkipVerify: { type: 'boolean' },
    },
  },
};
const trafficPolicy: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...trafficPolicyProps,
    portLevelSettings: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        properties: { ...trafficPolicyProps, port: { type: 'object', additionalProperties: false, properties: { number: port } } },
      },
    },
  },
};

export const destinationRuleSchema: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['host'],
  properties: {
    host: nonEmpty,
    trafficPolicy,
    subsets: {
      type: 'array',
      items: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: nonEmpty, labels: strMap, trafficPolicy } },
    },
    exportTo,
    workloadSelector: selector,
  },
};

const workloadEntryProps: Record<string, Schema> = {
  address: str,
  ports: { type: 'object', additionalProperties: port },
  labels: strMap,
  network: str,
  locality: str,
  weight: { type: 'integer', minimum: 0, maximum: 4294967295 },
  serviceAccount: str,
};

export const workloadEntrySchema: Schema = { type: 'object', additionalProperties: false, properties: workloadEntryProps };

export const serviceEntrySchema: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['hosts'],
  properties: {
    hosts: { type: 'array', minItems: 1, items: nonEmpty },
    addresses: { type: 'array', items: str },
    ports: { type: 'array', items: { ...servicePort, required: ['number', 'name'] } },
    location: { enum: ['MESH_EXTERNAL', 'MESH_INTERNAL'] },
    resolution: { enum: ['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN'] },
    endpoints: { type: 'array', items: { type: 'object', additionalProperties: false, properties: workloadEntryProps } },
    workloadSelector: selector,
    exportTo,
    subjectAltNames: { type: 'array', items: str },
  },
};

/** Gateway server TLS settings (Istio's ServerTLSSettings); which combinations are valid: schema-semantic.ts. */
const serverTls: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    httpsRedirect: { type: 'boolean' },
    mode: { enum: ['PASSTHROUGH', 'SIMPLE', 'MUTUAL', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL'] },
    credentialName: nonEmpty,
    serverCertificate: nonEmpty,
    privateKey: nonEmpty,
    caCertificates: nonEmpty,
    subjectAltNames: { type: 'array', items: str },
    verifyCertificateSpki: { type: 'array', items: str },
    verifyCertificateHash: { type: 'array', items: str },
    minProtocolVersion: { enum: ['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3'] },
    maxProtocolVersion: { enum: ['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3'] },
    cipherSuites: { type: 'array', items: str },
  },
};

export const gatewaySchema: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    selector: strMap,
    servers: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['port', 'hosts'],
        properties: { port: servicePort, hosts: { type: 'array', minItems: 1, items: nonEmpty }, bind: str, tls: serverTls, name: str, defaultEndpoint: str },
      },
    },
  },
};

const captureMode: Schema = { enum: ['DEFAULT', 'IPTABLES', 'NONE'] };
export const sidecarSchema: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    workloadSelector: selector,
    ingress: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['port'],
        properties: { port: servicePort, bind: str, captureMode, defaultEndpoint: str, tls: { type: 'object' } },
      },
    },
    egress: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['hosts'],
        properties: { port: servicePort, bind: str, captureMode, hosts: { type: 'array', minItems: 1, items: nonEmpty } },
      },
    },
    outboundTrafficPolicy: { type: 'object', additionalProperties: false, properties: { mode: { enum: ['REGISTRY_ONLY', 'ALLOW_ANY'] }, egressProxy: { type: 'object' } } },
    inboundConnectionPool: { type: 'object' },
  },
};
