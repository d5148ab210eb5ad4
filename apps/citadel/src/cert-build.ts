/**
 * X.509 v3 certificate construction: node-forge encodes the extensions (basic constraints, key usage,
 * extended key usage, SANs, key identifiers), names and times; issuer name, subject key and signature
 * algorithm are spliced in as exact DER (forge cannot represent EC keys, and the issuer name must match
 * the CA certificate's subject byte for byte); the Signer computes the signature.
 */
import { randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { encodeTlv, toDer, type Asn1 } from './der';
import type { Signer } from './signer';

const { asn1 } = forge;
const U = asn1.Class.UNIVERSAL;

/** An extension in node-forge's object form (`{name, critical, ...fields}` or `{id, value}`). */
export type Extension = Record<string, unknown>;

export interface CertificateSpec {
  notBefore: Date;
  notAfter: Date;
  /** DER Name of the issuer (the CA certificate's subject, exactly). */
  issuerName: Buffer;
  /** DER Name of the subject (an empty SEQUENCE for workload certificates). */
  subjectName: Buffer;
  /** DER SubjectPublicKeyInfo of the certified key. */
  spki: Buffer;
  extensions: Extension[];
}

const pkiExt = forge.pki as unknown as { certificateExtensionsToAsn1(exts: Extension[]): Asn1 };

/** An empty Name: workload identities live in the SAN only, as Istio does. */
export const EMPTY_NAME = Buffer.from([0x30, 0x00]);

/** A Name with a single O= attribute, e.g. the self-signed root's "O=cluster.local". */
export function organizationName(organization: string): Buffer {
  return toDer(forge.pki.distinguishedNameToAsn1({ attributes: [{ type: '2.5.4.10', value: organization, valueTagClass: asn1.Type.UTF8 } as unknown as forge.pki.CertificateField] }));
}

/** Random bytes fetched 4 KiB at a time: one call into OpenSSL's generator per 256 serial numbers. */
const SERIAL_BYTES = 16;
let randomPool = Buffer.alloc(0);
let randomOffset = 0;

/** A random positive 127-bit serial number (RFC 5280 allows up to 20 octets). */
export function randomSerial(): Buffer {
  if (randomOffset + SERIAL_BYTES > randomPool.length) {
    randomPool = randomBytes(256 * SERIAL_BYTES);
    randomOffset = 0;
  }
  const serial = Buffer.from(randomPool.subarray(randomOffset, randomOffset + SERIAL_BYTES));
  randomPool.fill(0, randomOffset, randomOffset + SERIAL_BYTES);
  randomOffset += SERIAL_BYTES;
  serial[0] = (serial[0] & 0x7f) | 0x40;
  return serial;
}

function time(date: Date): Buffer {
  return date.getUTCFullYear() < 2050
    ? encodeTlv(0x17, Buffer.from(asn1.dateToUtcTime(date), 'latin1'))
    : encodeTlv(0x18, Buffer.from(asn1.dateToGeneralizedTime(date), 'latin1'));
}

/** Encodes the extensions through forge (which fills in values from the named fields), as [3] { SEQUENCE }. */
function extensionsDer(extensions: Extension[]): Buffer {
  const holder = forge.pki.createCertificate();
  holder.setExtensions(extensions as unknown as Parameters<typeof holder.setExtensions>[0]);
  return toDer(pkiExt.certificateExtensionsToAsn1(holder.extensions as unknown as Extension[]));
}

const VERSION_3 = Buffer.from([0xa0, 0x03, 0x02, 0x01, 0x02]);

/**
 * Builds, signs and returns the DER certificate. The pieces that arrive as exact DER (issuer, subject,
 * key, algorithm) are concatenated as they are; forge encodes the extensions.
 */
export async function buildCertificate(spec: CertificateSpec, signer: Signer): Promise<Buffer> {
  const tbs = encodeTlv(0x30, [
    VERSION_3,
    encodeTlv(0x02, randomSerial()),
    signer.algorithmIdentifier,
    spec.issuerName,
    encodeTlv(0x30, [time(spec.notBefore), time(spec.notAfter)]),
    spec.subjectName,
    spec.spki,
    extensionsDer(spec.extensions),
  ]);
  const signature = await signer.sign(tbs);
  return encodeTlv(0x30, [tbs, signer.algorithmIdentifier, encodeTlv(0x03, [Buffer.from([0]), signature])]);
}

/** Extensions of a workload (or serving) certificate: not a CA, TLS client+server auth, SANs critical. */
export function leafExtensions(opts: { uris?: string[]; dnsNames?: string[]; ips?: string[]; authorityKeyId?: Buffer }): Extension[] {
  const altNames = [
    ...(opts.uris ?? []).map((value) => ({ type: 6, value })),
    ...(opts.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(opts.ips ?? []).map((ip) => ({ type: 7, ip })),
  ];
  const out: Extension[] = [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectAltName', altNames, critical: true },
  ];
  if (opts.authorityKeyId) out.push({ name: 'authorityKeyIdentifier', keyIdentifier: opts.authorityKeyId.toString('binary') });
  return out;
}

/** Extensions of a CA certificate (the self-signed root). */
export function caExtensions(subjectKeyId: Buffer): Extension[] {
  return [
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier', value: asn1.create(U, asn1.Type.OCTETSTRING, false, subjectKeyId.toString('binary')) },
  ];
}
