/** Errors of @mesh/xds (codes MESH_ERR_XDS_*). */
import { defineErrors, GrpcStatus } from '@mesh/runtime';

export const xdsErrors = defineErrors('XDS', {
  UNKNOWN_TYPE: {
    message: (p: { typeUrl: string }) => `unknown xDS type URL "${p.typeUrl}"`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
  ENCODE: {
    message: (p: { typeUrl: string; reason: string }) => `cannot encode ${p.typeUrl}: ${p.reason}`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
  DECODE: {
    message: (p: { typeUrl: string; reason: string }) => `cannot decode ${p.typeUrl}: ${p.reason}`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
  SNAPSHOT_INVALID: {
    message: (p: { nodeId: string; problems: string[] }) =>
      `snapshot for node "${p.nodeId}" refused: ${p.problems.join('; ')}`,
    grpc: GrpcStatus.FAILED_PRECONDITION,
    http: 400,
  },
  BAD_REQUEST: {
    message: (p: { reason: string }) => `bad discovery request: ${p.reason}`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
  CLIENT_CLOSED: {
    message: (p: { target: string }) => `ADS client for ${p.target} is closed`,
    grpc: GrpcStatus.CANCELLED,
    http: 503,
  },
});
