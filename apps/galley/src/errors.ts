import { defineErrors, GrpcStatus } from '@mesh/runtime';

/** Every error galley can report, with a stable code (MESH_ERR_GALLEY_<NAME>) and its status mapping. */
export const errors = defineErrors('GALLEY', {
  NOT_IMPLEMENTED: {
    message: () => 'galley has no behaviour yet; it is planned, not working. See README.md, "Status".',
    grpc: GrpcStatus.UNIMPLEMENTED,
    http: 501,
  },
});
