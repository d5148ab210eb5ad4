/**
 * PeerAuthentication (security.istio.io/v1beta1) -> the mTLS mode of one inbound port, with Istio's
 * precedence: a workload-selector policy in the workload's namespace beats the namespace-wide policy,
 * which beats the mesh-wide policy (root namespace, no selector); UNSET inherits from the level above;
 * portLevelMtls (selector policies only, as in Istio) overrides per target port. No policy: PERMISSIVE.
 * Then the inbound filter chains each mode needs (TLS with a client certificate from SDS, plaintext, or both).
 */
import {
  downstreamTlsTransportSocket, sdsSecretConfig, typedConfig, type FilterChain, type ListenerFilter, type NetworkFilter,
} from '@mesh/xds';
import type { ConfigObject } from '@mesh/config';
import { labelsMatch } from './registry';

export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';
type ModeOrUnset = MtlsMode | 'UNSET';

export interface PeerAuthenticationSpec {
  selector?: { matchLabels?: Record<string, string> };
  mtls?: { mode?: ModeOrUnset };
  portLevelMtls?: Record<string, { mode?: ModeOrUnset }>;
}

/** Istio's default when no policy decides. */
export const DEFAULT_MTLS_MODE: MtlsMode = 'PERMISSIVE';

const byKey = (a: ConfigObject, b: ConfigObject): number =>
  `${a.meta.namespace}/${a.meta.name}`.localeCompare(`${b.meta.namespace}/${b.meta.name}`);

const hasSelector = (s: PeerAuthenticationSpec): boolean => Object.keys(s.selector?.matchLabels ?? {}).length > 0;

/** The mTLS mode of each inbound port of a workload (namespace + labels); `undefined` port: the workload default. */
export function effectiveMtlsMode(
  policies: readonly ConfigObject[],
  rootNamespace: string,
  workload: { namespace: string; labels: Record<string, string> },
  port?: number,
): MtlsMode {
  const sorted = [...policies].sort(byKey);
  const spec = (c: ConfigObject): PeerAuthenticationSpec => c.spec as PeerAuthenticationSpec;
  const mesh = sorted.find((c) => c.meta.namespace === rootNamespace && !hasSelector(spec(c)));
  const ns = sorted.find((c) => c.meta.namespace === workload.namespace && !hasSelector(spec(c)) && c !== mesh);
  // Several matching selector policies: Istio takes the oldest; we take the first by name (deterministic).
  const wl = sorted.find((c) => c.meta.namespace === workload.namespace && hasSelector(spec(c)) && labelsMatch(spec(c).selector?.matchLabels, workload.labels));
  let mode: MtlsMode = DEFAULT_MTLS_MODE;
  for (const c of [mesh, ns, wl]) {
    const m = c ? spec(c).mtls?.mode : undefined;
    if (m && m !== 'UNSET') mode = m;
  }
  if (wl && port !== undefined) {
    const m = spec(wl).portLevelMtls?.[String(port)]?.mode;
    if (m && m !== 'UNSET') mode = m;
  }
  return mode;
}

/** Envoy's TLS inspector: detects TLS (and reads SNI/ALPN) from the first bytes of a connection. */
export function tlsInspector(): ListenerFilter {
  return {
    name: 'envoy.filters.listener.tls_inspector',
    typed_config: typedConfig('type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector', {}),
  };
}

/** Istio's inbound DownstreamTlsContext: our certificate `default` and the peer's root `ROOTCA` over SDS, client certificate required. */
export function inboundMtlsTransportSocket(http: boolean): FilterChain['transport_socket'] {
  return downstreamTlsTransportSocket({
    common_tls_context: {
      tls_certificate_sds_secret_configs: [sdsSecretConfig('default')],
      combined_validation_context: { default_validation_context: {}, validation_context_sds_secret_config: sdsSecretConfig('ROOTCA') },
      alpn_protocols: http ? ['h2', 'http/1.1'] : ['istio-peer-exchange', 'istio'],
    },
    require_client_certificate: { value: true },
  });
}

/**
 * Inbound filter chains for one port: STRICT -> one TLS chain (plaintext finds no chain and is closed);
 * PERMISSIVE -> the TLS chain and a `raw_buffer` chain, chosen by the TLS inspector; DISABLE -> plaintext only.
 */
export function inboundChains(mode: MtlsMode, name: string, filters: NetworkFilter[], http: boolean): { chains: FilterChain[]; listenerFilters: ListenerFilter[] } {
  const tls: FilterChain = { name: `${name}-mtls`, filter_chain_match: { transport_protocol: 'tls' }, filters, transport_socket: inboundMtlsTransportSocket(http) };
  switch (mode) {
    case 'STRICT':
      return { chains: [tls], listenerFilters: [tlsInspector()] };
    case 'PERMISSIVE':
      return { chains: [tls, { name: `${name}-plaintext`, filter_chain_match: { transport_protocol: 'raw_buffer' }, filters }], listenerFilters: [tlsInspector()] };
    case 'DISABLE':
      return { chains: [{ name: `${name}-plaintext`, filters }], listenerFilters: [] };
    default: {
      const never: never = mode;
      throw new Error(`unknown mTLS mode ${String(never)}`);
    }
  }
}
