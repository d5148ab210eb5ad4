import { defineErrors, GrpcStatus } from '@mesh/runtime';

/** Every error pilot can report, with a stable code (MESH_ERR_PILOT_<NAME>) and its status mapping. */
export const errors = defineErrors('PILOT', {
  NOT_IMPLEMENTED: {
    message: () => 'pilot has no behaviour yet; it is planned, not working. See README.md, "Status".',
    grpc: GrpcStatus.UNIMPLEMENTED,
    http: 501,
  },
});
