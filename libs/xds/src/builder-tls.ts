/** TLS transport sockets (UpstreamTlsContext / DownstreamTlsContext) with SDS or inline certificates. */
import type { BoolValue, ConfigSource, StringMatcher } from './builder-common';
import { typedConfig } from './builder-common';
import type { DecodedAny } from './protos';
import { EXTENSION_TYPE_URL } from './protos';

/** envoy.config.core.v3.DataSource. */
export interface DataSource {
  inline_bytes?: Buffer | string;
  inline_string?: string;
  filename?: string;
}

/** envoy.extensions.transport_sockets.tls.v3.SdsSecretConfig. */
export interface SdsSecretConfig {
  name: string;
  sds_config?: ConfigSource | { api_config_source: ApiConfigSource; resource_api_version: 'V3' };
}

/** envoy.config.core.v3.ApiConfigSource (GRPC to a named cluster). */
export interface ApiConfigSource {
  api_type: 'GRPC' | 'DELTA_GRPC';
  transport_api_version: 'V3';
  grpc_services: { envoy_grpc: { cluster_name: string } }[];
  set_node_on_first_message_only?: boolean;
}

/** An SdsSecretConfig that fetches `name` over gRPC SDS from `clusterName` (Istio: `sds-grpc`). */
export function sdsSecretConfig(name: string, clusterName = 'sds-grpc'): SdsSecretConfig {
  return {
    name,
    sds_config: {
      api_config_source: {
        api_type: 'GRPC',
        transport_api_version: 'V3',
        grpc_services: [{ envoy_grpc: { cluster_name: clusterName } }],
        set_node_on_first_message_only: true,
      },
      resource_api_version: 'V3',
    },
  };
}

export interface TlsCertificate {
  certificate_chain: DataSource;
  private_key: DataSource;
}

export interface CertificateValidationContext {
  trusted_ca?: DataSource;
  match_typed_subject_alt_names?: { san_type: 'URI' | 'DNS' | 'EMAIL' | 'IP_ADDRESS'; matcher: StringMatcher }[];
}

export interface CommonTlsContext {
  tls_certificates?: TlsCertificate[];
  tls_certificate_sds_secret_configs?: SdsSecretConfig[];
  validation_context?: CertificateValidationContext;
  validation_context_sds_secret_config?: SdsSecretConfig;
  combined_validation_context?: {
    default_validation_context: CertificateValidationContext;
    validation_context_sds_secret_config: SdsSecretConfig;
  };
  alpn_protocols?: string[];
}

export interface UpstreamTlsContext {
  common_tls_context: CommonTlsContext;
  sni?: string;
}

export interface DownstreamTlsContext {
  common_tls_context: CommonTlsContext;
  require_client_certificate?: BoolValue;
}

/** envoy.config.core.v3.TransportSocket. */
export interface TransportSocket {
  name: string;
  typed_config: DecodedAny;
}

export function upstreamTlsTransportSocket(ctx: UpstreamTlsContext): TransportSocket {
  return { name: 'envoy.transport_sockets.tls', typed_config: typedConfig(EXTENSION_TYPE_URL.UPSTREAM_TLS, ctx) };
}

export function downstreamTlsTransportSocket(ctx: DownstreamTlsContext): TransportSocket {
  return { name: 'envoy.transport_sockets.tls', typed_config: typedConfig(EXTENSION_TYPE_URL.DOWNSTREAM_TLS, ctx) };
}

/**
 * Istio-style mutual TLS context: certificate `default` and root `ROOTCA` over SDS, optional SAN match of
 * the peer's SPIFFE identities.
 */
export function istioMutualTlsContext(opts: { sdsCluster?: string; peerSans?: string[]; alpn?: string[] } = {}): CommonTlsContext {
  const ctx: CommonTlsContext = {
    tls_certificate_sds_secret_configs: [sdsSecretConfig('default', opts.sdsCluster)],
    validation_context_sds_secret_config: sdsSecretConfig('ROOTCA', opts.sdsCluster),
  };
  if (opts.peerSans?.length) {
    delete ctx.validation_context_sds_secret_config;
    ctx.combined_validation_context = {
      default_validation_context: {
        match_typed_subject_alt_names: opts.peerSans.map((san) => ({ san_type: 'URI', matcher: { exact: san } })),
      },
      validation_context_sds_secret_config: sdsSecretConfig('ROOTCA', opts.sdsCluster),
    };
  }
  if (opts.alpn) ctx.alpn_protocols = opts.alpn;
  return ctx;
}
