import { defineErrors, GrpcStatus } from '@mesh/runtime';

/** Every error the sidecar (proxy and node agent) reports, with a stable code (MESH_ERR_SIDECAR_<NAME>) and its status mapping. */
export const errors = defineErrors('SIDECAR', {
  NODE_INVALID: {
    message: (p: { problems: string }) => `cannot build the proxy identity: ${p.problems}`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
  CONCURRENCY_INVALID: {
    message: (p: { value: number }) => `--concurrency must be 1..256, got ${p.value}`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
  LISTENER_BIND: {
    message: (p: { listener: string; address: string; error: string }) => `listener ${p.listener} cannot bind ${p.address}: ${p.error}`,
    grpc: GrpcStatus.UNAVAILABLE,
    http: 503,
  },
  AGENT_FLAGS_INVALID: {
    message: (p: { problems: string }) => `node agent flags: ${p.problems}`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
  TLS_UNAVAILABLE: {
    message: (p: { listener: string; reason: string }) => `listener ${p.listener} cannot serve TLS: ${p.reason}`,
    grpc: GrpcStatus.FAILED_PRECONDITION,
    http: 503,
  },
  AGENT_IDENTITY_INVALID: {
    message: (p: { field: string; value: string; reason: string }) => `node agent identity: ${p.field} "${p.value}" ${p.reason}`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
  AGENT_TOKEN_UNREADABLE: {
    message: (p: { path: string; error: string }) => `node agent cannot read its token file ${p.path}: ${p.error}`,
    grpc: GrpcStatus.FAILED_PRECONDITION,
    http: 500,
  },
  AGENT_ROOT_UNREADABLE: {
    message: (p: { path: string; error: string }) => `node agent cannot read the CA root bundle ${p.path}: ${p.error}`,
    grpc: GrpcStatus.FAILED_PRECONDITION,
    http: 500,
  },
  AGENT_CA_REFUSED: {
    message: (p: { address: string; status: string; reason: string }) => `Citadel at ${p.address} refused the certificate request (${p.status}): ${p.reason}`,
    grpc: GrpcStatus.PERMISSION_DENIED,
    http: 403,
  },
  AGENT_CA_UNAVAILABLE: {
    message: (p: { address: string; status: string; reason: string }) => `Citadel at ${p.address} could not be reached (${p.status}): ${p.reason}`,
    grpc: GrpcStatus.UNAVAILABLE,
    http: 503,
  },
  AGENT_CHAIN_INVALID: {
    message: (p: { address: string; reason: string }) => `certificate chain from Citadel at ${p.address} is unusable: ${p.reason}`,
    grpc: GrpcStatus.INTERNAL,
    http: 502,
  },
  AGENT_SDS_BIND: {
    message: (p: { socketPath: string; error: string }) => `node agent cannot serve SDS on ${p.socketPath}: ${p.error}`,
    grpc: GrpcStatus.UNAVAILABLE,
    http: 503,
  },
  CONFIG_REJECTED: {
    message: (p: { type: string; errors: string }) => `${p.type} update rejected: ${p.errors}`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
});
