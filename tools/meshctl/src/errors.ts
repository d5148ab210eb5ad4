import { defineErrors, GrpcStatus } from '@mesh/runtime';

/** Every error meshctl reports, with a stable code (MESH_ERR_MESHCTL_<NAME>). */
export const errors = defineErrors('MESHCTL', {
  UNKNOWN_COMMAND: {
    message: (p: { command: string }) => `unknown command "${p.command}"; commands: status, proxy-config, apply, delete`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
  USAGE: {
    message: (p: { command: string; reason: string }) => `${p.command}: ${p.reason}`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
  STATE_UNREADABLE: {
    message: (p: { file: string; reason: string }) => `cannot read the local mesh state ${p.file}: ${p.reason}`,
    grpc: GrpcStatus.FAILED_PRECONDITION,
    http: 412,
  },
  NO_CONFIG_DIR: {
    message: (p: { stateFile: string }) => `no config directory: the local mesh is not running (no ${p.stateFile}); pass --config-dir DIR`,
    grpc: GrpcStatus.FAILED_PRECONDITION,
    http: 412,
  },
  UNREACHABLE: {
    message: (p: { url: string; reason: string }) => `cannot reach ${p.url}: ${p.reason}`,
    grpc: GrpcStatus.UNAVAILABLE,
    http: 503,
  },
  BAD_RESPONSE: {
    message: (p: { url: string; reason: string }) => `unexpected answer from ${p.url}: ${p.reason}`,
    grpc: GrpcStatus.INTERNAL,
    http: 502,
  },
  PROXY_UNKNOWN: {
    message: (p: { proxy: string; known: string[] }) =>
      `no proxy "${p.proxy}" in the local mesh topology (known: ${p.known.join(', ') || 'none'}); pass its admin address host:port`,
    grpc: GrpcStatus.NOT_FOUND,
    http: 404,
  },
  FILE_UNREADABLE: {
    message: (p: { file: string; reason: string }) => `cannot read ${p.file}: ${p.reason}`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
  INVALID_CONFIG: {
    message: (p: { count: number }) => `${p.count} error(s): nothing was written`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
  WRITE_FAILED: {
    message: (p: { file: string; reason: string }) => `cannot write ${p.file}: ${p.reason}`,
    grpc: GrpcStatus.INTERNAL,
    http: 500,
  },
});
