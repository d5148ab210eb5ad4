import { defineErrors, GrpcStatus } from '@mesh/runtime';

/** Every error injector can report, with a stable code (MESH_ERR_INJECTOR_<NAME>) and its status mapping. */
export const errors = defineErrors('INJECTOR', {
  NOT_IMPLEMENTED: {
    message: () => 'injector has no behaviour yet; it is planned, not working. See README.md, "Status".',
    grpc: GrpcStatus.UNIMPLEMENTED,
    http: 501,
  },
});
