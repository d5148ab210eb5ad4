/**
 * grpc-js, required on first use: a sidecar without mutual TLS never needs it (its ADS client speaks gRPC on
 * node:http2, client-transport.ts), and loading it costs about 7 MB of RSS. Pilot's server, the CA client
 * and the node agent's SDS server call grpcJs() when they start.
 */
import type * as grpcTypes from '@grpc/grpc-js';

let grpc: typeof grpcTypes | undefined;

export function grpcJs(): typeof grpcTypes {
  grpc ??= require('@grpc/grpc-js') as typeof grpcTypes;
  return grpc;
}
