/**
 * istio.v1.auth.IstioCertificateService over gRPC with TLS (grpc-unary-server.ts: node:http2, no
 * grpc-js server). The serving certificate comes from ServingIdentity, so a renewed certificate (after a
 * root rotation or at half its life) is used by new connections without restarting the server.
 */
import { CA_CREATE_CERTIFICATE_PATH, caServiceDefinition, type IstioCertificateRequest, type IstioCertificateResponse } from '@mesh/xds';
import type { HostPort, Logger } from '@mesh/runtime';
import { MeshError } from '@mesh/runtime';
import type { CertificateAuthority } from './ca-authority';
import { errors } from './errors';
import { startUnaryServer, type TlsIdentity, type UnaryCall, type UnaryMethod } from './grpc-unary-server';
import type { CitadelMetrics } from './metrics';
import { bearerToken } from './token';
import { TokenVerifier } from './token-cache';

/** Holds the current serving certificate and tells the server when it changes. */
export class ServingIdentity {
  private latest: TlsIdentity | undefined;
  private readonly listeners = new Set<(tls: TlsIdentity) => void>();

  update(certChainPem: string, keyPem: string): void {
    this.latest = { cert: certChainPem, key: keyPem };
    for (const l of this.listeners) l(this.latest);
  }

  get current(): TlsIdentity | undefined {
    return this.latest;
  }

  onUpdate(listener: (tls: TlsIdentity) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
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

function reasonLabel(e: MeshError): string {
  return e.code.replace(/^MESH_ERR_CITADEL_/, '').toLowerCase();
}

export async function startGrpcServer(address: HostPort, deps: GrpcServerDeps): Promise<{ port: number; stop(): Promise<void> }> {
  const { authority, metrics, log } = deps;
  const tokens = new TokenVerifier(deps.tokenKey);
  const definition = caServiceDefinition().CreateCertificate;

  const refused = (e: MeshError, caller: string | undefined, peer: string): void => {
    metrics.refusals.inc({ reason: reasonLabel(e) });
    // A caller that gave up is not a refusal worth a warning (thousands of them under overload).
    if (e.code === ABANDONED) log.debug('certificate request abandoned by the caller', { code: e.code, caller, peer });
    else log.warn('certificate request refused', { code: e.code, error: e.message, caller, peer });
  };

  const createCertificate: UnaryMethod<IstioCertificateRequest, IstioCertificateResponse> = {
    deserialize: (message) => definition.requestDeserialize(message) as IstioCertificateRequest,
    serialize: (response) => definition.responseSerialize(response),
    async handle(call: UnaryCall<IstioCertificateRequest>) {
      const endTimer = metrics.issueSeconds.startTimer();
      metrics.csrCount.inc();
      let identity: string | undefined;
      try {
        const authorization = call.headers.authorization;
        const caller = tokens.verify(bearerToken(typeof authorization === 'string' ? authorization : undefined));
        identity = `${caller.namespace}/${caller.serviceAccount}`;
        const issued = await authority.issueWorkloadCertificate({ csrPem: call.request.csr, validity: call.request.validity_duration, caller, abandoned: () => call.abandoned() });
        endTimer();
        metrics.issued.inc();
        if (log.debugEnabled()) log.debug('certificate issued', { identity: issued.identity, key: issued.keyDescription, notAfter: issued.notAfter.toISOString(), peer: call.peer() });
        return { cert_chain: issued.chain };
      } catch (err) {
        endTimer();
        const e = err instanceof MeshError ? err : errors.create('SIGN_FAILED', { reason: (err as Error).message });
        refused(e, identity, call.peer());
        throw e;
      }
    },
  };

  const tls = deps.identity.current;
  if (!tls) throw errors.create('LISTEN_FAILED', { address: `${address.host}:${address.port}`, reason: 'no serving certificate yet' });
  const server = await startUnaryServer(address, {
    methods: new Map([[CA_CREATE_CERTIFICATE_PATH, createCertificate as UnaryMethod<unknown, unknown>]]),
    tls,
    onRefused: (e, peer) => refused(e, undefined, peer),
  });
  const unsubscribe = deps.identity.onUpdate((next) => server.setIdentity(next));
  return {
    port: server.port,
    stop: async () => {
      unsubscribe();
      await server.stop();
    },
  };
}
