/**
 * istio.v1.auth.IstioCertificateService over gRPC with TLS. The serving certificate comes from a
 * certificate provider, so a renewed certificate (after a root rotation or at half its life) is picked up
 * by new connections without restarting the server.
 */
import * as grpc from '@grpc/grpc-js';
import { experimental } from '@grpc/grpc-js';
import { caServiceDefinition, type IstioCertificateRequest, type IstioCertificateResponse } from '@mesh/xds';
import type { HostPort, Logger } from '@mesh/runtime';
import { MeshError } from '@mesh/runtime';
import type { CertificateAuthority } from './ca-authority';
import { errors } from './errors';
import type { CitadelMetrics } from './metrics';
import { bearerToken, verifyToken } from './token';

/** Holds the current serving certificate and tells grpc-js when it changes. */
export class ServingIdentity implements experimental.CertificateProvider {
  private latest: experimental.IdentityCertificateUpdate | null = null;
  private readonly listeners = new Set<experimental.IdentityCertificateUpdateListener>();

  update(certChainPem: string, keyPem: string): void {
    this.latest = { certificate: Buffer.from(certChainPem), privateKey: Buffer.from(keyPem) };
    for (const l of this.listeners) l(this.latest);
  }

  addIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    this.listeners.add(listener);
    // Deliver on the next tick: grpc-js registers its own watcher only after this call returns, so a
    // synchronous delivery would be lost and the server would drop every TLS connection.
    setImmediate(() => {
      if (this.listeners.has(listener) && this.latest) listener(this.latest);
    });
  }

  removeIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    this.listeners.delete(listener);
  }

  /** The CA does not ask for client certificates, so there is no CA bundle to provide. */
  addCaCertificateListener(): void {
    return;
  }

  removeCaCertificateListener(): void {
    return;
  }
}

export interface GrpcServerDeps {
  authority: CertificateAuthority;
  tokenKey: Buffer;
  metrics: CitadelMetrics;
  log: Logger;
  identity: ServingIdentity;
}

const ABANDONED = errors.create('REQUEST_ABANDONED', {}).code;

function metadataValue(metadata: grpc.Metadata, key: string): string | undefined {
  const v = metadata.get(key)[0];
  return v === undefined ? undefined : String(v);
}

export async function startGrpcServer(address: HostPort, deps: GrpcServerDeps): Promise<{ port: number; stop(): Promise<void> }> {
  const { authority, tokenKey, metrics, log } = deps;
  const server = new grpc.Server();
  server.addService(caServiceDefinition(), {
    CreateCertificate(
      call: grpc.ServerUnaryCall<IstioCertificateRequest, IstioCertificateResponse>,
      callback: grpc.sendUnaryData<IstioCertificateResponse>,
    ) {
      const endTimer = metrics.issueSeconds.startTimer();
      metrics.csrCount.inc();
      const peer = call.getPeer();
      let identity: string | undefined;
      (async () => {
        const caller = verifyToken(tokenKey, bearerToken(metadataValue(call.metadata, 'authorization')));
        identity = `${caller.namespace}/${caller.serviceAccount}`;
        return authority.issueWorkloadCertificate({ csrPem: call.request.csr, validity: call.request.validity_duration, caller, abandoned: () => call.cancelled });
      })().then(
        (issued) => {
          endTimer();
          metrics.issued.inc();
          if (log.debugEnabled()) log.debug('certificate issued', { identity: issued.identity, key: issued.keyDescription, notAfter: issued.notAfter.toISOString(), peer });
          callback(null, { cert_chain: issued.chain });
        },
        (err: unknown) => {
          endTimer();
          const e = err instanceof MeshError ? err : errors.create('SIGN_FAILED', { reason: (err as Error).message });
          metrics.refusals.inc({ reason: e.code.replace(/^MESH_ERR_CITADEL_/, '').toLowerCase() });
          // A caller that gave up is not a refusal worth a warning (thousands of them under overload).
          if (e.code === ABANDONED) log.debug('certificate request abandoned by the caller', { code: e.code, caller: identity, peer });
          else log.warn('certificate request refused', { code: e.code, error: e.message, caller: identity, peer });
          callback({ code: e.grpcStatus, details: `${e.code}: ${e.message}` });
        },
      );
    },
  });
  const credentials = experimental.createCertificateProviderServerCredentials(deps.identity, null, false);
  const target = `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(target, credentials, (err, bound) => (err ? reject(errors.create('LISTEN_FAILED', { address: target, reason: err.message })) : resolve(bound)));
  });
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.forceShutdown(), 5000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
