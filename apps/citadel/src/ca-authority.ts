/**
 * The certificate authority: turns an authenticated caller and a CSR into a signed chain. It holds the
 * current CA material and can be handed a new one (rotation, replaced plug-in files) without dropping a
 * request: each issuance works on the material it started with.
 */
import { createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { buildCertificate, EMPTY_NAME, leafExtensions } from './cert-build';
import { derToPem } from './der';
import { parseCsr } from './csr-validate';
import { errors } from './errors';
import type { CaMaterial } from './ca-store';
import { SignQueue } from './sign-queue';
import { spiffeId, type TokenClaims } from './token';

export interface AuthorityPolicy {
  trustDomain: string;
  defaultTtlMs: number;
  maxTtlMs: number;
  /** Workload certificates signed at once (the rest queue, see sign-queue.ts); default 2. */
  signConcurrency?: number;
}

export interface IssuedCertificate {
  /** PEM chain, leaf first, root last. */
  chain: string[];
  identity: string;
  keyDescription: string;
  notAfter: Date;
}

/** Certificates are back-dated slightly so a peer whose clock runs a little behind accepts them. */
const CLOCK_SKEW_MS = 60_000;

export class CertificateAuthority {
  private readonly signing: SignQueue;

  constructor(
    private current: CaMaterial,
    readonly policy: AuthorityPolicy,
  ) {
    this.signing = new SignQueue(Math.max(1, policy.signConcurrency ?? 2));
  }

  get material(): CaMaterial {
    return this.current;
  }

  replace(material: CaMaterial): void {
    this.current = material;
  }

  /** Lifetime for a request's validity_duration (seconds, as proto-loader's int64 string). */
  lifetimeMs(validity: string | number | undefined): number {
    const text = String(validity ?? '0');
    const seconds = /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
    const maxSeconds = Math.floor(this.policy.maxTtlMs / 1000);
    if (seconds === 0) return this.policy.defaultTtlMs;
    if (!Number.isSafeInteger(seconds) || seconds < 0 || seconds > maxSeconds) throw errors.create('VALIDITY_INVALID', { requested: text, max: maxSeconds });
    return seconds * 1000;
  }

  /**
   * `abandoned` is asked when the request's turn to be signed comes (after the CSR checks and any wait
   * in the sign queue), just before the CA key signs: under overload a request whose caller has gone
   * (cancelled, deadline passed) is dropped instead of signed for nobody, so the queue drains at full
   * speed and the callers still waiting are served.
   */
  async issueWorkloadCertificate(request: { csrPem: string; validity?: string | number; caller: TokenClaims; abandoned?: () => boolean }): Promise<IssuedCertificate> {
    const material = this.current;
    const lifetime = this.lifetimeMs(request.validity);
    const identity = spiffeId(this.policy.trustDomain, request.caller.namespace, request.caller.serviceAccount);
    const csr = await parseCsr(request.csrPem);
    for (const san of csr.sans) {
      if (san.kind === 'URI' && san.value.startsWith('spiffe://') && san.value !== identity) {
        throw errors.create('IDENTITY_MISMATCH', { requested: san.value, allowed: identity });
      }
    }
    const identitySans = csr.sans.filter((s) => s.kind === 'URI' && s.value === identity);
    const extra = csr.sans.find((s) => !(s.kind === 'URI' && s.value === identity)) ?? (identitySans.length > 1 ? identitySans[1] : undefined);
    if (extra) throw errors.create('CSR_EXTRA_SAN', { san: `${extra.kind}:${extra.value}`, allowed: `URI:${identity}` });
    let notAfter = new Date(0);
    const der = await this.signing.run(request.abandoned, () => {
      const now = Date.now();
      notAfter = new Date(Math.min(now + lifetime, Date.parse(material.signingCert.validTo)));
      return buildCertificate(
        {
          notBefore: new Date(now - CLOCK_SKEW_MS),
          notAfter,
          issuerName: material.signingParts.subjectName,
          subjectName: EMPTY_NAME,
          spki: csr.spki,
          extensions: leafExtensions({ uris: [identity], authorityKeyId: material.signingParts.subjectKeyId }),
        },
        material.signer,
      );
    });
    return { chain: [derToPem(der, 'CERTIFICATE'), ...material.chainPems], identity, keyDescription: csr.keyDescription, notAfter };
  }

  /** The CA's own gRPC serving certificate: a fresh EC P-256 key, DNS/IP SANs, chain without the root. */
  async issueServingCertificate(opts: { dnsNames: string[]; ips: string[]; ttlMs: number }): Promise<{ certChainPem: string; keyPem: string; notAfter: Date }> {
    const material = this.current;
    const key = await new Promise<KeyObject>((resolve, reject) =>
      generateKeyPair('ec', { namedCurve: 'prime256v1' }, (err, _pub, priv) => (err ? reject(err) : resolve(priv))),
    );
    const now = Date.now();
    const notAfter = new Date(Math.min(now + opts.ttlMs, Date.parse(material.signingCert.validTo)));
    const der = await buildCertificate(
      {
        notBefore: new Date(now - CLOCK_SKEW_MS),
        notAfter,
        issuerName: material.signingParts.subjectName,
        subjectName: EMPTY_NAME,
        spki: createPublicKey(key).export({ type: 'spki', format: 'der' }),
        extensions: leafExtensions({ dnsNames: opts.dnsNames, ips: opts.ips, authorityKeyId: material.signingParts.subjectKeyId }),
      },
      material.signer,
    );
    const intermediates = material.chainPems.slice(0, -1);
    return { certChainPem: [derToPem(der, 'CERTIFICATE'), ...intermediates].join(''), keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(), notAfter };
  }
}
