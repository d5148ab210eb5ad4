/**
 * SDS secrets resolved locally: the names Istio's resources reference ('default' = the workload key and
 * chain, 'ROOTCA' = the mesh trust bundle) answered from the in-process node agent, as Envoy would get
 * them over SDS from the agent's socket; any other name (a gateway's `kubernetes://<credentialName>`)
 * from the secrets received over ADS (xds-secrets.ts). Without an agent the workload names do not
 * resolve and SDS-referencing listeners and clusters refuse traffic (never plaintext).
 */
import type { CertificateProvider } from './agent-tls';
import type { AdsSecrets } from './xds-secrets';

export const SDS_DEFAULT = 'default';
export const SDS_ROOTCA = 'ROOTCA';

export interface ResolvedTls {
  cert: string | undefined;
  key: string | undefined;
  ca: string | undefined;
}

const isAgentName = (name: string): boolean => name === SDS_DEFAULT || name === SDS_ROOTCA;

export class LocalSecrets {
  constructor(
    private readonly provider: CertificateProvider | undefined,
    private readonly ads?: AdsSecrets,
  ) {}

  get available(): boolean {
    return this.provider !== undefined || this.ads !== undefined;
  }

  /**
   * The certificate secret `certName` and validation secret `caName` (either may be undefined); undefined
   * when a referenced name is not one this proxy can serve (yet).
   */
  resolve(certName: string | undefined, caName: string | undefined): ResolvedTls | undefined {
    const out: ResolvedTls = { cert: undefined, key: undefined, ca: undefined };
    if (certName !== undefined) {
      if (isAgentName(certName)) {
        if (certName !== SDS_DEFAULT || !this.provider) return undefined;
        const c = this.provider.current();
        out.cert = c.certChainPem;
        out.key = c.privateKeyPem;
      } else {
        const s = this.ads?.get(certName);
        if (s?.cert === undefined || s.key === undefined) return undefined;
        out.cert = s.cert;
        out.key = s.key;
      }
    }
    if (caName !== undefined) {
      if (isAgentName(caName)) {
        if (caName !== SDS_ROOTCA || !this.provider) return undefined;
        out.ca = this.provider.current().rootCertPem;
      } else {
        const s = this.ads?.get(caName);
        if (s?.ca === undefined) return undefined;
        out.ca = s.ca;
      }
    }
    return out;
  }

  /** Called after each rotation (new certificate or trust bundle, or a changed ADS secret); returns the unsubscribe function. */
  onRotate(listener: () => void): () => void {
    const offAgent = this.provider ? this.provider.onRotate(() => listener()) : () => undefined;
    const offAds = this.ads ? this.ads.onChange(() => listener()) : () => undefined;
    return () => {
      offAgent();
      offAds();
    };
  }
}
