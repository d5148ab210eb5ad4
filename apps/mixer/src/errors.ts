import { defineErrors, GrpcStatus } from '@mesh/runtime';

/** Every error mixer can report, with a stable code (MESH_ERR_MIXER_<NAME>) and its status mapping. */
export const errors = defineErrors('MIXER', {
  NOT_IMPLEMENTED: {
    message: () => 'mixer has no behaviour yet; it is planned, not working. See README.md, "Status".',
    grpc: GrpcStatus.UNIMPLEMENTED,
    http: 501,
  },
});
