/** Secret (SDS) builders: Istio's `default` (workload certificate) and `ROOTCA` (trust bundle). */
import type { CertificateValidationContext, TlsCertificate } from './builder-tls';

export interface Secret {
  name: string;
  tls_certificate?: TlsCertificate;
  validation_context?: CertificateValidationContext;
}

/** A certificate secret: chain (leaf first) and key as PEM. */
export function tlsCertificateSecret(name: string, certChainPem: string, privateKeyPem: string): Secret {
  return {
    name,
    tls_certificate: {
      certificate_chain: { inline_bytes: Buffer.from(certChainPem) },
      private_key: { inline_bytes: Buffer.from(privateKeyPem) },
    },
  };
}

/** A validation-context secret: trusted roots as PEM. */
export function validationContextSecret(name: string, rootCertPem: string): Secret {
  return { name, validation_context: { trusted_ca: { inline_bytes: Buffer.from(rootCertPem) } } };
}
