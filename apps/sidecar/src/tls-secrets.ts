/**
 * SDS secrets resolved locally: the names Istio's resources reference ('default' = the workload key and
 * chain, 'ROOTCA' = the mesh trust bundle) answered from the in-process node agent, as Envoy would get
 * them over SDS from the agent's socket. Without an agent nothing resolves and SDS-referencing listeners
 * and clusters refuse traffic (never plaintext).
 */
import type { CertificateProvider } from './agent-tls';

export const SDS_DEFAULT = 'default';
export const SDS_ROOTCA = 'ROOTCA';

export interface ResolvedTls {
  cert: string | undefined;
  key: string | undefined;
  ca: string | undefined;
}

export class LocalSecrets {
  constructor(private readonly provider: CertificateProvider | undefined) {}

  get available(): boolean {
    return this.provider !== undefined;
  }

  /**
   * The certificate secret `certName` and validation secret `caName` (either may be undefined); undefined
   * when a referenced name is not one this proxy can serve.
   */
  resolve(certName: string | undefined, caName: string | undefined): ResolvedTls | undefined {
    const p = this.provider;
    if (!p) return undefined;
    if (certName !== undefined && certName !== SDS_DEFAULT) return undefined;
    if (caName !== undefined && caName !== SDS_ROOTCA) return undefined;
    const c = p.current();
    return {
      cert: certName ? c.certChainPem : undefined,
      key: certName ? c.privateKeyPem : undefined,
      ca: caName ? c.rootCertPem : undefined,
    };
  }

  /** Called after each rotation (new certificate or trust bundle); returns the unsubscribe function. */
  onRotate(listener: () => void): () => void {
    return this.provider ? this.provider.onRotate(() => listener()) : () => undefined;
  }
}
