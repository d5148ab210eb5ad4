import { defineErrors, GrpcStatus } from '@mesh/runtime';

/** Every error pilot can report, with a stable code (MESH_ERR_PILOT_<NAME>) and its status mapping. */
export const errors = defineErrors('PILOT', {
  BAD_NODE: {
    message: (p: { detail: string }) => `invalid proxy identity: ${p.detail}`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
  LISTEN: {
    message: (p: { what: string; address: string; reason: string }) => `cannot listen for ${p.what} on ${p.address}: ${p.reason}`,
    grpc: GrpcStatus.UNAVAILABLE,
    http: 503,
  },
  BAD_FLAG: {
    message: (p: { flag: string; reason: string }) => `--${p.flag}: ${p.reason}`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
  CONFIG_DIR: {
    message: (p: { dir: string; reason: string }) => `config dir ${p.dir} is not readable: ${p.reason}`,
    grpc: GrpcStatus.FAILED_PRECONDITION,
    http: 400,
  },
});
