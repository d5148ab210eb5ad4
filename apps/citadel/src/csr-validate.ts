/**
 * Parses and checks a PEM PKCS#10 CSR from a workload: structure, public key policy (RSA >= 2048 bits,
 * EC P-256/P-384), the self-signature (verified with node:crypto, so EC requests work; node-forge's CSR
 * parser only knows RSA keys), and the requested subject alternative names.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { children, fromDer, oidOf, pemBlocks, readTlv, type Tlv } from './der';
import { errors } from './errors';

const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';

/** Signature algorithms accepted on a CSR: OID -> [hash, key type]. SHA-1 and MD5 are refused. */
const SIGNATURE_ALGORITHMS: Record<string, { name: string; hash: string; keyType: string }> = {
  '1.2.840.113549.1.1.11': { name: 'sha256WithRSAEncryption', hash: 'sha256', keyType: 'rsa' },
  '1.2.840.113549.1.1.12': { name: 'sha384WithRSAEncryption', hash: 'sha384', keyType: 'rsa' },
  '1.2.840.113549.1.1.13': { name: 'sha512WithRSAEncryption', hash: 'sha512', keyType: 'rsa' },
  '1.2.840.10045.4.3.2': { name: 'ecdsa-with-SHA256', hash: 'sha256', keyType: 'ec' },
  '1.2.840.10045.4.3.3': { name: 'ecdsa-with-SHA384', hash: 'sha384', keyType: 'ec' },
  '1.2.840.10045.4.3.4': { name: 'ecdsa-with-SHA512', hash: 'sha512', keyType: 'ec' },
};

const GENERAL_NAME_KINDS: Record<number, string> = { 1: 'email', 2: 'DNS', 6: 'URI', 7: 'IP' };

export interface SubjectAltName {
  /** "URI", "DNS", "IP", "email" or "tag <n>". */
  kind: string;
  value: string;
}

export interface ParsedCsr {
  spki: Buffer;
  publicKey: KeyObject;
  /** e.g. "EC P-256", "RSA 2048". */
  keyDescription: string;
  sans: SubjectAltName[];
}

function malformed(reason: string): Error {
  return errors.create('CSR_MALFORMED', { reason });
}

function describeKey(key: KeyObject): string {
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') return `RSA ${d.modulusLength}`;
  if (key.asymmetricKeyType === 'ec') {
    const curve = d.namedCurve === 'prime256v1' ? 'P-256' : d.namedCurve === 'secp384r1' ? 'P-384' : d.namedCurve;
    return `EC ${curve}`;
  }
  return String(key.asymmetricKeyType);
}

function keyAllowed(key: KeyObject): boolean {
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') return (d.modulusLength ?? 0) >= 2048 && (d.modulusLength ?? 0) <= 8192;
  if (key.asymmetricKeyType === 'ec') return d.namedCurve === 'prime256v1' || d.namedCurve === 'secp384r1';
  return false;
}

function generalName(value: forge.asn1.Asn1): SubjectAltName {
  const kind = GENERAL_NAME_KINDS[value.type] ?? `tag ${value.type}`;
  if (value.type === 7) return { kind, value: (forge.util as unknown as { bytesToIP(b: string): string | null }).bytesToIP(value.value as string) ?? 'invalid' };
  return { kind, value: typeof value.value === 'string' ? value.value : '(structured)' };
}

/** The SANs of the extensionRequest attribute (CRI field [0]). */
function requestedSans(attributes: Tlv | undefined): SubjectAltName[] {
  if (!attributes || attributes.contents.length === 0) return [];
  const sans: SubjectAltName[] = [];
  for (const attribute of children(attributes)) {
    const [type, values] = (fromDer(attribute.bytes).value as forge.asn1.Asn1[]) ?? [];
    if (!type || oidOf(type) !== OID_EXTENSION_REQUEST) continue;
    for (const extensionList of values.value as forge.asn1.Asn1[]) {
      for (const extension of extensionList.value as forge.asn1.Asn1[]) {
        const parts = extension.value as forge.asn1.Asn1[];
        if (oidOf(parts[0]) !== OID_SUBJECT_ALT_NAME) continue;
        const names = forge.asn1.fromDer(parts[parts.length - 1].value as string);
        for (const name of names.value as forge.asn1.Asn1[]) sans.push(generalName(name));
      }
    }
  }
  return sans;
}

export function parseCsr(pem: string): ParsedCsr {
  if (typeof pem !== 'string' || pem.trim() === '') throw malformed('empty; send a PEM "CERTIFICATE REQUEST"');
  const blocks = pemBlocks(pem, ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST']);
  if (blocks.length !== 1) throw malformed(`expected exactly one PEM "CERTIFICATE REQUEST" block, found ${blocks.length}`);
  let info: Tlv, algorithm: Tlv, signature: Tlv, spki: Tlv, attributes: Tlv | undefined;
  let algorithmOid: string;
  try {
    const top = children(readTlv(blocks[0]));
    if (top.length !== 3) throw new Error(`CertificationRequest has ${top.length} fields, expected 3`);
    [info, algorithm, signature] = top;
    const fields = children(info);
    if (fields.length < 3) throw new Error('CertificationRequestInfo is incomplete');
    spki = fields[2];
    attributes = fields.find((f) => f.tag === 0xa0);
    algorithmOid = oidOf((fromDer(algorithm.bytes).value as forge.asn1.Asn1[])[0]);
  } catch (err) {
    throw malformed(`not a valid PKCS#10 request (${(err as Error).message})`);
  }
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: spki.bytes, format: 'der', type: 'spki' });
  } catch (err) {
    throw errors.create('CSR_KEY_UNSUPPORTED', { key: `(unreadable: ${(err as Error).message})` });
  }
  const keyDescription = describeKey(publicKey);
  if (!keyAllowed(publicKey)) throw errors.create('CSR_KEY_UNSUPPORTED', { key: keyDescription });
  const alg = SIGNATURE_ALGORITHMS[algorithmOid];
  if (!alg || alg.keyType !== publicKey.asymmetricKeyType) {
    throw malformed(`signature algorithm ${alg?.name ?? algorithmOid} is not accepted for a ${keyDescription} key (use SHA-256 or stronger)`);
  }
  if (signature.tag !== 0x03 || signature.contents[0] !== 0) throw malformed('signature is not a whole-byte BIT STRING');
  let valid = false;
  try {
    valid = verify(alg.hash, info.bytes, publicKey, signature.contents.subarray(1));
  } catch {
    valid = false;
  }
  if (!valid) throw errors.create('CSR_SIGNATURE_INVALID', { algorithm: alg.name });
  let sans: SubjectAltName[];
  try {
    sans = requestedSans(attributes);
  } catch (err) {
    throw malformed(`cannot read the extensionRequest attribute (${(err as Error).message})`);
  }
  return { spki: spki.bytes, publicKey, keyDescription, sans };
}
