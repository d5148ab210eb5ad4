/**
 * Typed views of the Istio networking specs we translate, as written in YAML (camelCase). Only fields
 * pilot reads are listed; the JSON schemas in schema-networking.ts are the source of truth for what is
 * accepted.
 */
export interface StringMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}

export interface Destination {
  host: string;
  subset?: string;
  port?: { number: number };
}

export interface HttpMatchRequest {
  name?: string;
  uri?: StringMatch;
  scheme?: StringMatch;
  method?: StringMatch;
  authority?: StringMatch;
  headers?: Record<string, StringMatch>;
  queryParams?: Record<string, StringMatch>;
  withoutHeaders?: Record<string, StringMatch>;
  port?: number;
  sourceLabels?: Record<string, string>;
  sourceNamespace?: string;
  ignoreUriCase?: boolean;
}

export interface HeaderOps {
  set?: Record<string, string>;
  add?: Record<string, string>;
  remove?: string[];
}

export interface HttpRoute {
  name?: string;
  match?: HttpMatchRequest[];
  /** Istio 1.8+ delegation: the http routes of VirtualService namespace/name (no hosts) stand in for this route. */
  delegate?: { name: string; namespace?: string };
  route?: { destination: Destination; weight?: number; headers?: { request?: HeaderOps; response?: HeaderOps } }[];
  redirect?: { uri?: string; authority?: string; port?: number; scheme?: string; redirectCode?: number };
  directResponse?: { status: number; body?: { string?: string; bytes?: string } };
  rewrite?: { uri?: string; authority?: string; uriRegexRewrite?: { match: string; rewrite: string } };
  timeout?: string;
  retries?: { attempts?: number; perTryTimeout?: string; retryOn?: string; retryRemoteLocalities?: boolean };
  fault?: {
    delay?: { fixedDelay?: string; percentage?: { value: number }; percent?: number };
    abort?: { httpStatus?: number; grpcStatus?: string; percentage?: { value: number } };
  };
  mirror?: Destination;
  mirrorPercentage?: { value: number };
  mirrors?: { destination: Destination; percentage?: { value: number } }[];
  corsPolicy?: {
    allowOrigins?: StringMatch[];
    allowMethods?: string[];
    allowHeaders?: string[];
    exposeHeaders?: string[];
    maxAge?: string;
    allowCredentials?: boolean;
  };
  headers?: { request?: HeaderOps; response?: HeaderOps };
}

export interface TcpRoute {
  match?: { port?: number; sourceLabels?: Record<string, string>; destinationSubnets?: string[] }[];
  route?: { destination: Destination; weight?: number }[];
}

export interface TlsRoute {
  match: { sniHosts: string[]; port?: number; sourceLabels?: Record<string, string>; gateways?: string[]; sourceNamespace?: string }[];
  route?: { destination: Destination; weight?: number }[];
}

export interface VirtualServiceSpec {
  /** Absent only in a delegate VirtualService. */
  hosts?: string[];
  gateways?: string[];
  http?: HttpRoute[];
  tcp?: TcpRoute[];
  tls?: TlsRoute[];
  exportTo?: string[];
}

export interface LoadBalancerSettings {
  simple?: 'UNSPECIFIED' | 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'LEAST_CONN' | 'RANDOM' | 'PASSTHROUGH';
  consistentHash?: {
    httpHeaderName?: string;
    httpCookie?: { name: string; path?: string; ttl?: string };
    useSourceIp?: boolean;
    httpQueryParameterName?: string;
    minimumRingSize?: number;
    ringHash?: { minimumRingSize?: number };
  };
}

export interface TrafficPolicy {
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: {
    tcp?: { maxConnections?: number; connectTimeout?: string };
    http?: { http1MaxPendingRequests?: number; http2MaxRequests?: number; maxRequestsPerConnection?: number; maxRetries?: number; idleTimeout?: string };
  };
  outlierDetection?: {
    consecutiveErrors?: number;
    consecutive5xxErrors?: number;
    consecutiveGatewayErrors?: number;
    interval?: string;
    baseEjectionTime?: string;
    maxEjectionPercent?: number;
    minHealthPercent?: number;
  };
  tls?: { mode?: 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL'; sni?: string; caCertificates?: string; clientCertificate?: string; privateKey?: string };
  portLevelSettings?: (TrafficPolicy & { port?: { number: number } })[];
}

export interface DestinationRuleSpec {
  host: string;
  trafficPolicy?: TrafficPolicy;
  subsets?: { name: string; labels?: Record<string, string>; trafficPolicy?: TrafficPolicy }[];
  exportTo?: string[];
}

export interface ServicePort {
  number: number;
  protocol?: string;
  name: string;
  targetPort?: number;
}

export interface WorkloadEntrySpec {
  address?: string;
  ports?: Record<string, number>;
  labels?: Record<string, string>;
  network?: string;
  locality?: string;
  weight?: number;
  serviceAccount?: string;
}

export interface ServiceEntrySpec {
  hosts: string[];
  addresses?: string[];
  ports?: ServicePort[];
  location?: 'MESH_EXTERNAL' | 'MESH_INTERNAL';
  resolution?: 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN';
  endpoints?: WorkloadEntrySpec[];
  workloadSelector?: { labels?: Record<string, string> };
  exportTo?: string[];
}

export interface SidecarSpec {
  workloadSelector?: { labels?: Record<string, string> };
  ingress?: { port: ServicePort; bind?: string; captureMode?: string; defaultEndpoint?: string }[];
  egress?: { port?: ServicePort; bind?: string; captureMode?: string; hosts: string[] }[];
  outboundTrafficPolicy?: { mode?: 'REGISTRY_ONLY' | 'ALLOW_ANY' };
}

export type GatewayTlsMode = 'PASSTHROUGH' | 'SIMPLE' | 'MUTUAL' | 'AUTO_PASSTHROUGH' | 'ISTIO_MUTUAL' | 'OPTIONAL_MUTUAL';

export interface ServerTlsSettings {
  httpsRedirect?: boolean;
  mode?: GatewayTlsMode;
  credentialName?: string;
  serverCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  subjectAltNames?: string[];
  minProtocolVersion?: string;
  maxProtocolVersion?: string;
  cipherSuites?: string[];
}

export interface GatewayServer {
  port: ServicePort;
  hosts: string[];
  bind?: string;
  name?: string;
  tls?: ServerTlsSettings;
}

export interface GatewaySpec {
  selector?: Record<string, string>;
  servers?: GatewayServer[];
}

/**
 * A Kubernetes Secret (core/v1) as pilot keeps it: `type` and `data` (base64 values, as in YAML) with
 * `stringData` folded in (base64-encoded) at validation. Gateways read kubernetes.io/tls secrets
 * (tls.crt, tls.key, optional ca.crt) and generic ones (cert, key, cacert).
 */
export interface SecretSpec {
  type: string;
  data: Record<string, string>;
}
