import { defineErrors, GrpcStatus } from '@mesh/runtime';

/** Every error sidecar can report, with a stable code (MESH_ERR_SIDECAR_<NAME>) and its status mapping. */
export const errors = defineErrors('SIDECAR', {
  NOT_IMPLEMENTED: {
    message: () => 'sidecar has no behaviour yet; it is planned, not working. See README.md, "Status".',
    grpc: GrpcStatus.UNIMPLEMENTED,
    http: 501,
  },
});
