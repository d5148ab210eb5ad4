/**
 * Client for the mesh CA (istio.v1.auth.IstioCertificateService/CreateCertificate) over TLS: the node
 * agent sends its CSR with `authorization: Bearer <token>` and gets its chain back, leaf first, root last.
 * A refused request rejects with the gRPC error (its `code` is the gRPC status, `details` the CA's reason).
 */
import type * as grpc from '@grpc/grpc-js';
import { grpcJs } from './grpc-lazy';
import { caServiceDefinition, type IstioCertificateRequest, type IstioCertificateResponse } from './ca-proto';

export { generateWorkloadKey, createCsr, type CsrOptions, type WorkloadKeyKind } from './ca-csr';
export { CA_SERVICE_NAME, CA_CREATE_CERTIFICATE_PATH, caServiceDefinition, type IstioCertificateRequest, type IstioCertificateResponse } from './ca-proto';

export interface CaClientOptions {
  /** host:port of the CA, e.g. 127.0.0.1:8060. */
  address: string;
  /** PEM bundle the CA's serving certificate must chain to. */
  rootCertPem: string;
  /** Name checked against the CA's serving certificate when it differs from the address host. */
  serverName?: string;
}

export interface CertificateRequest {
  /** Bearer credential for the caller's identity. */
  token: string;
  csrPem: string;
  /** Requested lifetime in seconds; 0 or absent asks for the CA's default. */
  validitySeconds?: number;
  /** Per-call deadline, default 10 s. */
  timeoutMs?: number;
}

export interface CaClient {
  requestCertificate(request: CertificateRequest): Promise<string[]>;
  close(): void;
}

type UnaryClient = grpc.Client & {
  CreateCertificate(
    request: IstioCertificateRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: (err: grpc.ServiceError | null, response?: IstioCertificateResponse) => void,
  ): grpc.ClientUnaryCall;
};

/** A long-lived client (one channel) for repeated requests, e.g. rotation or benchmarks. */
export function createCaClient(options: CaClientOptions): CaClient {
  const grpc = grpcJs();
  const Constructor = grpc.makeGenericClientConstructor(caServiceDefinition(), 'IstioCertificateService');
  const channelOptions: grpc.ChannelOptions = options.serverName ? { 'grpc.ssl_target_name_override': options.serverName } : {};
  const client = new Constructor(
    options.address,
    grpc.credentials.createSsl(Buffer.from(options.rootCertPem)),
    channelOptions,
  ) as unknown as UnaryClient;
  return {
    requestCertificate(request) {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${request.token}`);
      const message: IstioCertificateRequest = { csr: request.csrPem, validity_duration: String(request.validitySeconds ?? 0) };
      const deadline = new Date(Date.now() + (request.timeoutMs ?? 10_000));
      return new Promise((resolve, reject) => {
        client.CreateCertificate(message, metadata, { deadline }, (err, response) => {
          if (err) reject(err);
          else resolve(response?.cert_chain ?? []);
        });
      });
    },
    close() {
      client.close();
    },
  };
}

export interface RequestCertificateOptions extends CaClientOptions {
  token: string;
  csrPem: string;
  validitySeconds?: number;
  timeoutMs?: number;
}

/** One request on a fresh channel, closed afterwards. Resolves with the PEM chain, leaf first, root last. */
export async function requestCertificate(options: RequestCertificateOptions): Promise<string[]> {
  const client = createCaClient(options);
  try {
    return await client.requestCertificate(options);
  } finally {
    client.close();
  }
}
