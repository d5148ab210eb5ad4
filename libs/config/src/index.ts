/**
 * @mesh/config: Istio's config kinds (one schema registry), their validation with field paths, and the typed
 * views translation reads. Pilot validates its config directory with it; meshctl validates `apply -f`
 * with the very same code, so what meshctl accepts is what Pilot accepts.
 */
export { configKey, type ConfigMeta, type ConfigObject, type FieldError, type ValidationResult } from './config-types';
export type {
  Destination, DestinationRuleSpec, GatewayServer, GatewaySpec, GatewayTlsMode, HeaderOps, HttpMatchRequest, HttpRoute, LoadBalancerSettings,
  SecretSpec, ServerTlsSettings, ServiceEntrySpec, ServicePort, SidecarSpec, StringMatch, TcpRoute, TlsRoute, TrafficPolicy, VirtualServiceSpec,
  WorkloadEntrySpec,
} from './config-spec';
export { KINDS, lookupKind, type KindSchema } from './schema-registry';
export { formatErrors, validateDocument, validateYaml, type DocumentResult } from './config-validate';
export { exportedTo, formatReferenceError, referenceErrors, resolveDelegate, type ReferenceError } from './config-references';
export { redactConfig, REDACTED, TLS_SECRET_TYPE } from './schema-core';
