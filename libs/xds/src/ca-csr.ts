/**
 * PKCS#10 certificate signing requests for workload identities, built with node:crypto keys.
 *
 * node:crypto has no CSR API and node-forge can only build CSRs for RSA keys, so the request is encoded
 * here with forge's ASN.1 primitives and signed with node:crypto (RSA PKCS#1 v1.5 or ECDSA, SHA-256/384).
 */
import { createPrivateKey, createPublicKey, generateKeyPair, sign, type KeyObject } from 'node:crypto';
import type Forge from 'node-forge';

let forgeLib: typeof Forge | undefined;

/** node-forge, required on the first CSR: most processes (a sidecar without mutual TLS) never build one. */
function forge(): typeof Forge {
  forgeLib ??= require('node-forge') as typeof Forge;
  return forgeLib;
}
const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const OID_ORGANIZATION = '2.5.4.10';

export type WorkloadKeyKind = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'rsa-3072';

export interface CsrOptions {
  privateKey: KeyObject | string;
  /** URI SANs, e.g. spiffe://cluster.local/ns/default/sa/default. */
  uris?: string[];
  dnsNames?: string[];
  /** Optional subject O= attribute; Istio leaves the subject empty. */
  organization?: string;
}

/** Generates a workload key pair; the private key is returned as PKCS#8 PEM. */
export async function generateWorkloadKey(kind: WorkloadKeyKind): Promise<{ privateKey: KeyObject; privateKeyPem: string }> {
  const privateKey = await new Promise<KeyObject>((resolve, reject) => {
    const done = (err: Error | null, _pub: KeyObject, priv: KeyObject): void => (err ? reject(err) : resolve(priv));
    if (kind === 'rsa-2048' || kind === 'rsa-3072') generateKeyPair('rsa', { modulusLength: kind === 'rsa-2048' ? 2048 : 3072 }, done);
    else generateKeyPair('ec', { namedCurve: kind === 'ec-p256' ? 'prime256v1' : 'secp384r1' }, done);
  });
  return { privateKey, privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

function node(tagClass: number, type: number, constructed: boolean, value: Forge.asn1.Asn1[] | string): Forge.asn1.Asn1 {
  const { asn1 } = forge();
  return asn1.create(tagClass, type, constructed, value);
}

function oid(value: string): Forge.asn1.Asn1 {
  const { asn1 } = forge();
  return node(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(value).getBytes());
}

function fromDer(buf: Buffer): Forge.asn1.Asn1 {
  const { asn1 } = forge();
  return asn1.fromDer(forge().util.createBuffer(buf.toString('binary')));
}

function toDer(value: Forge.asn1.Asn1): Buffer {
  const { asn1 } = forge();
  return Buffer.from(asn1.toDer(value).getBytes(), 'binary');
}

/** The signature algorithm a key signs CSRs with: [hash, AlgorithmIdentifier]. */
function signatureAlgorithm(key: KeyObject): [string, Forge.asn1.Asn1] {
  const { asn1 } = forge();
  const U = asn1.Class.UNIVERSAL;
  if (key.asymmetricKeyType === 'rsa') {
    return ['sha256', node(U, asn1.Type.SEQUENCE, true, [oid('1.2.840.113549.1.1.11'), node(U, asn1.Type.NULL, false, '')])];
  }
  if (key.asymmetricKeyType === 'ec') {
    const p384 = key.asymmetricKeyDetails?.namedCurve === 'secp384r1';
    return p384
      ? ['sha384', node(U, asn1.Type.SEQUENCE, true, [oid('1.2.840.10045.4.3.3')])]
      : ['sha256', node(U, asn1.Type.SEQUENCE, true, [oid('1.2.840.10045.4.3.2')])];
  }
  throw new Error(`cannot sign a CSR with a ${key.asymmetricKeyType ?? 'unknown'} key; use RSA or EC`);
}

/** Builds a PEM CSR for the key, with the given SANs in an extensionRequest attribute. */
export function createCsr(options: CsrOptions): string {
  const { asn1 } = forge();
  const U = asn1.Class.UNIVERSAL;
  const privateKey = typeof options.privateKey === 'string' ? createPrivateKey(options.privateKey) : options.privateKey;
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const names: Forge.asn1.Asn1[] = [
    ...(options.uris ?? []).map((uri) => node(asn1.Class.CONTEXT_SPECIFIC, 6, false, uri)),
    ...(options.dnsNames ?? []).map((dns) => node(asn1.Class.CONTEXT_SPECIFIC, 2, false, dns)),
  ];
  const attributes: Forge.asn1.Asn1[] = [];
  if (names.length > 0) {
    const san = node(U, asn1.Type.SEQUENCE, true, [
      oid(OID_SUBJECT_ALT_NAME),
      node(U, asn1.Type.OCTETSTRING, false, asn1.toDer(node(U, asn1.Type.SEQUENCE, true, names)).getBytes()),
    ]);
    attributes.push(
      node(U, asn1.Type.SEQUENCE, true, [
        oid(OID_EXTENSION_REQUEST),
        node(U, asn1.Type.SET, true, [node(U, asn1.Type.SEQUENCE, true, [san])]),
      ]),
    );
  }
  const subject = options.organization
    ? [node(U, asn1.Type.SET, true, [node(U, asn1.Type.SEQUENCE, true, [oid(OID_ORGANIZATION), node(U, asn1.Type.UTF8, false, forge().util.encodeUtf8(options.organization))])])]
    : [];
  const info = node(U, asn1.Type.SEQUENCE, true, [
    node(U, asn1.Type.INTEGER, false, String.fromCharCode(0)),
    node(U, asn1.Type.SEQUENCE, true, subject),
    fromDer(spki),
    node(asn1.Class.CONTEXT_SPECIFIC, 0, true, attributes),
  ]);
  const infoDer = toDer(info);
  const [hash, algorithm] = signatureAlgorithm(privateKey);
  const signature = sign(hash, infoDer, privateKey);
  const csr = node(U, asn1.Type.SEQUENCE, true, [
    info,
    algorithm,
    node(U, asn1.Type.BITSTRING, false, String.fromCharCode(0) + signature.toString('binary')),
  ]);
  const b64 = toDer(csr).toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE REQUEST-----\n${b64}-----END CERTIFICATE REQUEST-----\n`;
}
