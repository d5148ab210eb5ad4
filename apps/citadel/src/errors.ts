import { defineErrors, GrpcStatus } from '@mesh/runtime';

/** Every error citadel can report, with a stable code (MESH_ERR_CITADEL_<NAME>) and its status mapping. */
export const errors = defineErrors('CITADEL', {
  TOKEN_MISSING: {
    message: () => 'no credential: send gRPC metadata "authorization: Bearer <token>"',
    grpc: GrpcStatus.UNAUTHENTICATED,
    http: 401,
  },
  TOKEN_INVALID: {
    message: (p: { reason: string }) => `bearer token rejected: ${p.reason}`,
    grpc: GrpcStatus.UNAUTHENTICATED,
    http: 401,
  },
  TOKEN_EXPIRED: {
    message: (p: { expiredAt: string }) => `bearer token expired at ${p.expiredAt}; issue a new one`,
    grpc: GrpcStatus.UNAUTHENTICATED,
    http: 401,
  },
  IDENTITY_MISMATCH: {
    message: (p: { requested: string; allowed: string }) =>
      `csr asks for identity ${p.requested} but the token only grants ${p.allowed}`,
    grpc: GrpcStatus.PERMISSION_DENIED,
    http: 403,
  },
  CSR_MALFORMED: {
    message: (p: { reason: string }) => `csr: ${p.reason}`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
  CSR_SIGNATURE_INVALID: {
    message: (p: { algorithm: string }) => `csr: the ${p.algorithm} signature does not verify with the request's public key`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
  CSR_KEY_UNSUPPORTED: {
    message: (p: { key: string }) => `csr: public key ${p.key} is weak or unsupported; use RSA >= 2048 bits or EC P-256/P-384`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
  CSR_EXTRA_SAN: {
    message: (p: { san: string; allowed: string }) => `csr: subject alternative name ${p.san} is not allowed; only ${p.allowed} may be requested`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
  VALIDITY_INVALID: {
    message: (p: { requested: string; max: number }) =>
      `validity_duration ${p.requested}s is not allowed: it must be 0 (default) or between 1 and ${p.max} seconds`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
  SIGN_FAILED: {
    message: (p: { reason: string }) => `signing failed: ${p.reason}`,
    grpc: GrpcStatus.INTERNAL,
    http: 500,
  },
  REQUEST_ABANDONED: {
    message: () => 'the caller cancelled or its deadline passed before the certificate was signed; nothing was signed',
    grpc: GrpcStatus.CANCELLED,
    http: 499,
  },
  CA_DIR_INVALID: {
    message: (p: { file: string; reason: string }) => `CA material in ${p.file}: ${p.reason}`,
    grpc: GrpcStatus.FAILED_PRECONDITION,
    http: 500,
  },
  ROTATE_UNSUPPORTED: {
    message: (p: { dir: string }) =>
      `${p.dir} holds a plugged-in CA (cert-chain.pem); rotate its root in your PKI and update root-cert.pem (list both roots during the overlap)`,
    grpc: GrpcStatus.FAILED_PRECONDITION,
    http: 409,
  },
  COMMAND_UNKNOWN: {
    message: (p: { command: string }) => `unknown command "${p.command}"; commands: serve (default), issue-token, rotate-root`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
  ARGUMENT_INVALID: {
    message: (p: { flag: string; reason: string }) => `${p.flag}: ${p.reason}`,
    grpc: GrpcStatus.INVALID_ARGUMENT,
    http: 400,
  },
  GRPC_METHOD_UNKNOWN: {
    message: (p: { path: string }) => `no gRPC method ${p.path}; this server has istio.v1.auth.IstioCertificateService/CreateCertificate`,
    grpc: GrpcStatus.UNIMPLEMENTED,
    http: 404,
  },
  GRPC_REQUEST_INVALID: {
    message: (p: { reason: string }) => `not a valid gRPC request: ${p.reason}`,
    grpc: GrpcStatus.INTERNAL,
    http: 400,
  },
  GRPC_ENCODING_UNSUPPORTED: {
    message: (p: { encoding: string }) => `grpc-encoding ${p.encoding} is not supported; send uncompressed messages (identity)`,
    grpc: GrpcStatus.UNIMPLEMENTED,
    http: 400,
  },
  GRPC_MESSAGE_TOO_LARGE: {
    message: (p: { size: number; max: number }) => `request message of ${p.size} bytes is larger than the ${p.max} bytes accepted`,
    grpc: GrpcStatus.RESOURCE_EXHAUSTED,
    http: 413,
  },
  LISTEN_FAILED: {
    message: (p: { address: string; reason: string }) => `cannot listen on ${p.address}: ${p.reason}`,
    grpc: GrpcStatus.UNAVAILABLE,
    http: 503,
  },
});

export type CitadelErrorName = Parameters<typeof errors.create>[0];
