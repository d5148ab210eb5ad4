/**
 * Loads the Istio CA proto (istio.v1.auth.IstioCertificateService) that this lib ships. The .proto lives
 * in libs/xds/proto when running from source and in <bundle>/proto/xds inside an esbuild bundle.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';

const CA_PROTO_FILE = 'istio/v1/auth/istioca.proto';

/** Fully qualified name of the CA service, and its one method's path. */
export const CA_SERVICE_NAME = 'istio.v1.auth.IstioCertificateService';
export const CA_CREATE_CERTIFICATE_PATH = `/${CA_SERVICE_NAME}/CreateCertificate`;

export interface IstioCertificateRequest {
  csr: string;
  /** int64 seconds; proto-loader hands longs over as strings. */
  validity_duration: string | number;
  metadata?: unknown;
}

export interface IstioCertificateResponse {
  cert_chain: string[];
}

/** Where the lib's .proto files are: beside the sources, or beside the bundle. */
export function xdsProtoDir(): string {
  const candidates = [path.join(__dirname, '../proto'), path.join(__dirname, 'proto', 'xds')];
  for (const dir of candidates) if (existsSync(path.join(dir, CA_PROTO_FILE))) return dir;
  throw new Error(`cannot find ${CA_PROTO_FILE}; looked in ${candidates.join(', ')}`);
}

let cached: grpc.ServiceDefinition | undefined;

/** The service definition, for `server.addService` and `grpc.makeGenericClientConstructor`. */
export function caServiceDefinition(): grpc.ServiceDefinition {
  if (cached) return cached;
  // Required here, not at load: only processes that talk to the CA need proto-loader.
  const loader = require('@grpc/proto-loader') as typeof protoLoader;
  const definition = loader.loadSync(CA_PROTO_FILE, {
    includeDirs: [xdsProtoDir()],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  cached = definition[CA_SERVICE_NAME] as grpc.ServiceDefinition;
  if (!cached) throw new Error(`${CA_PROTO_FILE} does not define ${CA_SERVICE_NAME}`);
  return cached;
}
