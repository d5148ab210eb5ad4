import { defineErrors, GrpcStatus } from '@mesh/runtime';

/** Every error the sidecar reports, with a stable code (MESH_ERR_SIDECAR_<NAME>) and its status mapping. */
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
  CONFIG_REJECTED: {
    message: (p: { type: string; errors: string }) => `${p.type} update rejected: ${p.errors}`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
});
