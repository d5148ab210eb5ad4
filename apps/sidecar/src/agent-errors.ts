import { defineErrors, GrpcStatus } from '@mesh/runtime';

/**
 * Errors of the node agent (workload certificate, rotation, SDS). Same area as the sidecar's own table
 * (MESH_ERR_SIDECAR_AGENT_<NAME>); kept in its own file until it is merged into errors.ts.
 */
export const agentErrors = defineErrors('SIDECAR', {
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
});
