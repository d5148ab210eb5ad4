import { defineErrors, GrpcStatus } from '@mesh/runtime';

/** Every error the local-mesh supervisor reports, with a stable code (MESH_ERR_LOCALMESH_<NAME>). */
export const errors = defineErrors('LOCALMESH', {
  TOPOLOGY_UNREADABLE: {
    message: (p: { file: string; reason: string }) => `cannot read topology file ${p.file}: ${p.reason}`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
  TOPOLOGY_INVALID: {
    message: (p: { file: string; errors: { path: string; message: string }[] }) =>
      `invalid topology file ${p.file}:\n${p.errors.map((e) => `  ${e.path}: ${e.message}`).join('\n')}`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
  PORT_BUSY: {
    message: (p: { ports: string[] }) =>
      `port(s) already in use: ${p.ports.join(', ')} (another copy running? stop it, or use --base-port / --free-ports)`,
    grpc: GrpcStatus.FAILED_PRECONDITION,
    http: 409,
  },
});
