/**
 * @mesh/xds: Envoy v3 xDS for the mesh.
 *
 * - protos: Envoy's v3 protos loaded from @grpc/grpc-js-xds, TYPE_URL constants, encode/decode of Anys.
 *   The canonical JS shape of a resource is proto-loader's decoded object form (snake_case fields,
 *   nested Any as `{ '@type': url, ...fields }`, durations `{ seconds: '1', nanos: 0 }`).
 * - builders: typed functions producing that shape (listener, route, cluster, endpoint, secret, HCM,
 *   HTTP filters, TCP proxy, TLS).
 * - Snapshot: immutable per-node resources with a version per type and a consistency check.
 * - AdsServer: ADS (SotW + Delta) and SDS on a grpc-js Server, with hooks and status() for Pilot.
 * - AdsClient: an ADS client (SotW, or Delta) with ACK/NACK, backoff and last-good config, for the sidecar.
 *
 * Test helpers (start a server, Envoy / grpc-js-xds bootstraps, admin readers) are in @mesh/xds/testing.
 */
export * from './errors';
export * from './protos';
export * from './schema-check';
export * from './node';
export * from './validation';
export * from './snapshot';
export * from './server-types';
export * from './server-ads';
export * from './client-ads';
export { GRPC_STATUS, grpcStatusName } from './client-transport';
export * from './builder-common';
export * from './builder-listener';
export * from './builder-route';
export * from './builder-cluster';
export * from './builder-endpoint';
export * from './builder-secret';
export * from './builder-hcm';
export * from './builder-filters';
export * from './builder-tcp-proxy';
export * from './builder-tls';
export * from './ca-client';
