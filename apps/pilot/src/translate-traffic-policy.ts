/**
 * DestinationRule traffic policy -> Envoy cluster settings: load balancer, circuit breakers
 * (connectionPool), outlier detection, upstream TLS. Subset policies override the top-level one and a
 * port-level setting overrides both, field by field, as in Istio.
 */
import { parseDuration } from '@mesh/runtime';
import { durationFromMs, sdsSecretConfig, upstreamTlsTransportSocket, type Cluster, type StringMatcher } from '@mesh/xds';
import type { DestinationRuleSpec, TrafficPolicy } from '@mesh/config';
import type { Generator } from './proxy';
import { DEFAULT_TRUST_DOMAIN, outboundSni } from './translate-security-identity';

/** Istio's connect timeout default (meshConfig.connectTimeout). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const MAX_U32 = 4294967295;

export function mergedPolicy(dr: DestinationRuleSpec | undefined, subset: string, port: number): TrafficPolicy | undefined {
  if (!dr) return undefined;
  const layers: (TrafficPolicy | undefined)[] = [dr.trafficPolicy];
  layers.push(dr.trafficPolicy?.portLevelSettings?.find((p) => p.port?.number === port));
  const sub = subset ? dr.subsets?.find((s) => s.name === subset)?.trafficPolicy : undefined;
  layers.push(sub, sub?.portLevelSettings?.find((p) => p.port?.number === port));
  const out: TrafficPolicy = {};
  for (const l of layers) {
    if (!l) continue;
    if (l.loadBalancer) out.loadBalancer = l.loadBalancer;
    if (l.connectionPool) out.connectionPool = l.connectionPool;
    if (l.outlierDetection) out.outlierDetection = l.outlierDetection;
    if (l.tls) out.tls = l.tls;
  }
  return out;
}

function ms(text: string | undefined, fallback: number): number {
  return text === undefined ? fallback : (parseDuration(text) ?? fallback);
}

/** Applies a traffic policy to a cluster in place. */
export function applyTrafficPolicy(
  cluster: Cluster,
  policy: TrafficPolicy | undefined,
  generator: Generator,
  sni: string,
  peerSans: StringMatcher[] = [{ prefix: `spiffe://${DEFAULT_TRUST_DOMAIN}/` }],
): void {
  const lb = policy?.loadBalancer;
  if (lb?.consistentHash) {
    cluster.lb_policy = 'RING_HASH';
    const size = lb.consistentHash.ringHash?.minimumRingSize ?? lb.consistentHash.minimumRingSize ?? 1024;
    cluster.ring_hash_lb_config = { minimum_ring_size: { value: String(size) } };
  } else if (generator === 'grpc') {
    // grpc-js-xds supports only ROUND_ROBIN and RING_HASH; Istio's grpc generator falls back to round robin.
    cluster.lb_policy = 'ROUND_ROBIN';
  } else {
    switch (lb?.simple) {
      case 'ROUND_ROBIN':
        cluster.lb_policy = 'ROUND_ROBIN';
        break;
      case 'RANDOM':
        cluster.lb_policy = 'RANDOM';
        break;
      case 'PASSTHROUGH':
        cluster.type = 'ORIGINAL_DST';
        cluster.lb_policy = 'CLUSTER_PROVIDED';
        delete cluster.eds_cluster_config;
        break;
      default:
        // Istio's default (and LEAST_CONN/LEAST_REQUEST).
        cluster.lb_policy = 'LEAST_REQUEST';
    }
  }
  const pool = policy?.connectionPool;
  cluster.connect_timeout = durationFromMs(ms(pool?.tcp?.connectTimeout, DEFAULT_CONNECT_TIMEOUT_MS));
  const n = (v: number | undefined): { value: number } => ({ value: v && v > 0 ? v : MAX_U32 });
  cluster.circuit_breakers = {
    thresholds: [
      {
        max_connections: n(pool?.tcp?.maxConnections),
        max_pending_requests: n(pool?.http?.http1MaxPendingRequests),
        max_requests: n(pool?.http?.http2MaxRequests),
        max_retries: n(pool?.http?.maxRetries),
      },
    ],
  };
  const od = policy?.outlierDetection;
  if (od) {
    const consecutive5xx = od.consecutive5xxErrors ?? od.consecutiveErrors;
    cluster.outlier_detection = {
      interval: durationFromMs(ms(od.interval, 10_000)),
      base_ejection_time: durationFromMs(ms(od.baseEjectionTime, 30_000)),
      max_ejection_percent: { value: od.maxEjectionPercent ?? 10 },
    };
    if (consecutive5xx !== undefined) {
      cluster.outlier_detection.consecutive_5xx = { value: consecutive5xx };
      cluster.outlier_detection.enforcing_consecutive_5xx = { value: consecutive5xx > 0 ? 100 : 0 };
    }
    if (od.consecutiveGatewayErrors !== undefined) {
      cluster.outlier_detection.consecutive_gateway_failure = { value: od.consecutiveGatewayErrors };
      cluster.outlier_detection.enforcing_consecutive_gateway_failure = { value: 100 };
    }
  }
  const tls = policy?.tls;
  if (tls?.mode === 'ISTIO_MUTUAL' && generator === 'envoy') {
    // As Istio: certificate `default` and root `ROOTCA` from the agent over SDS (cluster sds-grpc in the
    // proxy's bootstrap), the peer's SPIFFE URI SAN checked, SNI outbound_.<port>_.<subset>_.<host>.
    // Proxyless gRPC gets nothing here (it would need xDS certificate providers).
    cluster.transport_socket = upstreamTlsTransportSocket({
      sni: tls.sni ?? outboundSni(cluster.name),
      common_tls_context: {
        tls_certificate_sds_secret_configs: [sdsSecretConfig('default')],
        combined_validation_context: {
          default_validation_context: { match_typed_subject_alt_names: peerSans.map((matcher) => ({ san_type: 'URI', matcher })) },
          validation_context_sds_secret_config: sdsSecretConfig('ROOTCA'),
        },
        alpn_protocols: ['istio-peer-exchange', 'istio'],
      },
    });
  }
  if (tls && generator === 'envoy' && (tls.mode === 'SIMPLE' || tls.mode === 'MUTUAL')) {
    cluster.transport_socket = upstreamTlsTransportSocket({
      sni: tls.sni ?? sni,
      common_tls_context: {
        ...(tls.caCertificates ? { validation_context: { trusted_ca: { filename: tls.caCertificates } } } : {}),
        ...(tls.mode === 'MUTUAL' && tls.clientCertificate && tls.privateKey
          ? { tls_certificates: [{ certificate_chain: { filename: tls.clientCertificate }, private_key: { filename: tls.privateKey } }] }
          : {}),
      },
    });
  }
}
