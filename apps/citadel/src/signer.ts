/**
 * A Signer holds the CA's private key and signs certificate bodies (DER TBSCertificate). The file-backed
 * signer keeps the key in memory; an HSM- or Vault-backed signer implements the same interface.
 */
import type { KeyObject } from 'node:crypto';

export interface Signer {
  /** Human-readable key description for logs, e.g. "RSA 2048". */
  readonly description: string;
  readonly publicKey: KeyObject;
  /** DER AlgorithmIdentifier of the signatures this signer produces (goes into the certificate twice). */
  readonly algorithmIdentifier: Buffer;
  /** Signs the DER TBSCertificate; resolves with the raw signature (DER ECDSA-Sig-Value for EC keys). */
  sign(tbs: Buffer): Promise<Buffer>;
}
