/**
 * X.509 v3 certificate construction with node-forge's ASN.1 and extension encoders. Issuer name, subject
 * key and signature algorithm are spliced in as exact DER (forge cannot represent EC keys, and the issuer
 * name must match the CA certificate's subject byte for byte); the Signer computes the signature.
 */
import { randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { fromDer, toDer, type Asn1 } from './der';
import type { Signer } from './signer';

const { asn1 } = forge;
const U = asn1.Class.UNIVERSAL;
const CTX = asn1.Class.CONTEXT_SPECIFIC;

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

/** A random positive 127-bit serial number (RFC 5280 allows up to 20 octets). */
export function randomSerial(): Buffer {
  const serial = randomBytes(16);
  serial[0] = (serial[0] & 0x7f) | 0x40;
  return serial;
}

function time(date: Date): Asn1 {
  return date.getUTCFullYear() < 2050
    ? asn1.create(U, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(U, asn1.Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date));
}

/** Encodes the extensions through forge (which fills in values from the named fields). */
function extensionsAsn1(extensions: Extension[]): Asn1 {
  const holder = forge.pki.createCertificate();
  holder.setExtensions(extensions as unknown as Parameters<typeof holder.setExtensions>[0]);
  return pkiExt.certificateExtensionsToAsn1(holder.extensions as unknown as Extension[]);
}

/** Builds, signs and returns the DER certificate. */
export async function buildCertificate(spec: CertificateSpec, signer: Signer): Promise<Buffer> {
  const algorithm = fromDer(signer.algorithmIdentifier);
  const tbs = asn1.create(U, asn1.Type.SEQUENCE, true, [
    asn1.create(CTX, 0, true, [asn1.create(U, asn1.Type.INTEGER, false, String.fromCharCode(2))]),
    asn1.create(U, asn1.Type.INTEGER, false, randomSerial().toString('binary')),
    algorithm,
    fromDer(spec.issuerName),
    asn1.create(U, asn1.Type.SEQUENCE, true, [time(spec.notBefore), time(spec.notAfter)]),
    fromDer(spec.subjectName),
    fromDer(spec.spki),
    extensionsAsn1(spec.extensions),
  ]);
  const tbsDer = toDer(tbs);
  const signature = await signer.sign(tbsDer);
  const bits = Buffer.concat([Buffer.from([0]), signature]).toString('binary');
  return toDer(asn1.create(U, asn1.Type.SEQUENCE, true, [fromDer(tbsDer), fromDer(signer.algorithmIdentifier), asn1.create(U, asn1.Type.BITSTRING, false, bits)]));
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
