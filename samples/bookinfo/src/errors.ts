import { defineErrors, GrpcStatus } from '@mesh/runtime';

/** Every error Bookinfo reports, with a stable code (MESH_ERR_BOOKINFO_<NAME>) and its status mapping. */
export const errors = defineErrors('BOOKINFO', {
  PRODUCT_ID_INVALID: {
    message: (p: { path: string; id: string }) => `${p.path}: product id "${p.id}" is not a non-negative integer`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
  VERSION_INVALID: {
    message: (p: { service: string; version: string; allowed: readonly string[] }) =>
      `--version: ${p.service} has versions ${p.allowed.join(', ')}, got "${p.version}"`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
  PRODUCT_NOT_FOUND: {
    message: (p: { id: number }) => `product ${p.id} does not exist`,
    grpc: GrpcStatus.NOT_FOUND,
    http: 404,
  },
  ROUTE_NOT_FOUND: {
    message: (p: { method: string; path: string }) => `no route for ${p.method} ${p.path}`,
    grpc: GrpcStatus.NOT_FOUND,
    http: 404,
  },
  UPSTREAM_FAILED: {
    message: (p: { service: string; url: string; reason: string }) => `call to ${p.service} (${p.url}) failed: ${p.reason}`,
    grpc: GrpcStatus.UNAVAILABLE,
    http: 503,
  },
  LOGIN_INVALID: {
    message: (p: { reason: string }) => `login refused: ${p.reason}`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
  BODY_TOO_LARGE: {
    message: (p: { limit: number }) => `request body larger than ${p.limit} bytes`,
    grpc: GrpcStatus.RESOURCE_EXHAUSTED,
    http: 413,
  },
  INTERNAL: {
    message: (p: { reason: string }) => `internal error: ${p.reason}`,
    grpc: GrpcStatus.INTERNAL,
    http: 500,
  },
});
