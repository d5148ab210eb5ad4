import { defineErrors, GrpcStatus } from '@mesh/runtime';

/** Every error citadel can report, with a stable code (MESH_ERR_CITADEL_<NAME>) and its status mapping. */
export const errors = defineErrors('CITADEL', {
  NOT_IMPLEMENTED: {
    message: () => 'citadel has no behaviour yet; it is planned, not working. See README.md, "Status".',
    grpc: GrpcStatus.UNIMPLEMENTED,
    http: 501,
  },
});
