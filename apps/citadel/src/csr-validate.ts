/**
 * Parses and checks a PEM PKCS#10 CSR from a workload: structure, public key policy (RSA >= 2048 bits,
 * EC P-256/P-384, checked in spki-key.ts before the key is imported), the self-signature (verified with
 * node:crypto, so EC requests work; node-forge's CSR parser only knows RSA keys), and the requested SANs.
 */
import { verify, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { children, pemBlocks, readTlv, type Tlv } from './der';
import { errors } from './errors';
import { classifySpki, type SpkiKey } from './spki-key';


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

const OID_EXTENSION_REQUEST_DER = '06092a864886f70d01090e';
const OID_SUBJECT_ALT_NAME_DER = '0603551d11';

function generalName(name: Tlv): SubjectAltName {
  const tag = name.tag & 0x1f;
  const kind = GENERAL_NAME_KINDS[tag] ?? `tag ${tag}`;
  if ((name.tag & 0xc0) !== 0x80) return { kind: 'unknown', value: `(tag 0x${name.tag.toString(16)})` };
  if (tag === 7) return { kind, value: ipText(name.contents) };
  if (name.tag & 0x20) return { kind, value: '(structured)' };
  return { kind, value: name.contents.toString('latin1') };
}

function ipText(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join('.');
  if (bytes.length === 16) return (bytes.toString('hex').match(/.{4}/g) ?? []).join(':');
  return `(${bytes.length}-byte address)`;
}

/** The SANs of the extensionRequest attribute (CRI field [0]), read with the TLV reader. */
function requestedSans(attributes: Tlv | undefined): SubjectAltName[] {
  if (!attributes || attributes.contents.length === 0) return [];
  const sans: SubjectAltName[] = [];
  for (const attribute of children(attributes)) {
    const [type, values] = children(attribute);
    if (!type || !values || type.bytes.toString('hex') !== OID_EXTENSION_REQUEST_DER) continue;
    for (const extensionList of children(values)) {
      for (const extension of children(extensionList)) {
        const parts = children(extension);
        if (parts[0].bytes.toString('hex') !== OID_SUBJECT_ALT_NAME_DER) continue;
        for (const name of children(readTlv(parts[parts.length - 1].contents))) sans.push(generalName(name));
      }
    }
  }
  return sans;
}

/**
 * Checks the request's self-signature on the event loop: ~0.1 ms for ECDSA P-256, ~0.02 ms for RSA. The
 * hop to libuv's thread pool and back costs CPU of its own (a pool thread's wake-up, then the loop's:
 * 98 µs of CPU per P-256 verification on the loop against 108-120 µs with the hop, in-process here),
 * and the loop is blocked only briefly. Waiting requests queue for the CA key instead (sign-queue.ts).
 */
function verifySignature(hash: string, data: Buffer, key: KeyObject, signature: Buffer): boolean {
  try {
    return verify(hash, data, key, signature);
  } catch {
    return false;
  }
}

/**
 * Parses and checks a PEM PKCS#10 request: structure, key type and strength, signature algorithm, the
 * self-signature (proof that the caller holds the key) and the requested SANs.
 */
export async function parseCsr(pem: string): Promise<ParsedCsr> {
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
    algorithmOid = forge.asn1.derToOid(children(algorithm)[0].contents.toString('binary'));
  } catch (err) {
    throw malformed(`not a valid PKCS#10 request (${(err as Error).message})`);
  }
  let key: SpkiKey;
  try {
    key = classifySpki(spki.bytes);
  } catch (err) {
    throw malformed(`unreadable public key (${(err as Error).message})`);
  }
  const keyDescription = key.description;
  if (!key.allowed) throw errors.create('CSR_KEY_UNSUPPORTED', { key: keyDescription });
  const alg = SIGNATURE_ALGORITHMS[algorithmOid];
  if (!alg || alg.keyType !== key.keyType) {
    throw malformed(`signature algorithm ${alg?.name ?? algorithmOid} is not accepted for a ${keyDescription} key (use SHA-256 or stronger)`);
  }
  if (signature.tag !== 0x03 || signature.contents[0] !== 0) throw malformed('signature is not a whole-byte BIT STRING');
  let publicKey: KeyObject;
  try {
    publicKey = await key.load();
  } catch (err) {
    throw errors.create('CSR_KEY_UNSUPPORTED', { key: `${keyDescription} (unreadable: ${(err as Error).message})` });
  }
  const valid = verifySignature(alg.hash, info.bytes, publicKey, signature.contents.subarray(1));
  if (!valid) throw errors.create('CSR_SIGNATURE_INVALID', { algorithm: alg.name });
  let sans: SubjectAltName[];
  try {
    sans = requestedSans(attributes);
  } catch (err) {
    throw malformed(`cannot read the extensionRequest attribute (${(err as Error).message})`);
  }
  return { spki: spki.bytes, publicKey, keyDescription, sans };
}
