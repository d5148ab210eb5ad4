/**
 * Public keys from a CSR's SubjectPublicKeyInfo, classified by our own DER reading (algorithm, curve,
 * modulus size) and imported without OpenSSL's DER decoder, which is slow (createPublicKey on SPKI DER
 * costs ~60x more than a JWK import for RSA and ~2x for EC on this machine): RSA through JWK, EC points
 * as raw octets through WebCrypto (~60 µs of CPU for P-256 against ~90 µs through JWK; OpenSSL checks the
 * point lies on the curve either way). The key policy is checked before any import happens.
 */
import { createPublicKey, KeyObject, webcrypto } from 'node:crypto';
import { children, readTlv, type Tlv } from './der';

const OID_RSA = '06092a864886f70d010101';
const OID_EC = '06072a8648ce3d0201';
/** Named curves by their DER-encoded OID: [JWK crv, description, coordinate bytes, accepted]. */
const CURVES: Record<string, [string, string, number, boolean]> = {
  '06082a8648ce3d030107': ['P-256', 'EC P-256', 32, true],
  '06052b81040022': ['P-384', 'EC P-384', 48, true],
  '06052b81040023': ['P-521', 'EC P-521', 66, false],
  '06052b8104000a': ['secp256k1', 'EC secp256k1', 32, false],
};
const OTHER_ALGORITHMS: Record<string, string> = {
  '06032b6570': 'Ed25519',
  '06032b6571': 'Ed448',
  '06092a864886f70d01010a': 'RSASSA-PSS',
  '06072a8648ce380401': 'DSA',
};

export interface SpkiKey {
  /** "RSA 2048", "EC P-256", "Ed25519", ... */
  description: string;
  keyType: 'rsa' | 'ec' | 'other';
  /** Whether the mesh's key policy accepts it (RSA 2048..8192, EC P-256/P-384). */
  allowed: boolean;
  /** Imports the key (only call when allowed). */
  load(): Promise<KeyObject>;
}

function fromDer(spki: Buffer): KeyObject {
  return createPublicKey({ key: spki, format: 'der', type: 'spki' });
}

function unsignedInteger(tlv: Tlv): Buffer {
  let i = 0;
  while (i < tlv.contents.length - 1 && tlv.contents[i] === 0) i++;
  return tlv.contents.subarray(i);
}

function bitLength(n: Buffer): number {
  return n.length === 0 ? 0 : (n.length - 1) * 8 + (32 - Math.clz32(n[0]));
}

export function classifySpki(spki: Buffer): SpkiKey {
  const [algorithm, bits] = children(readTlv(spki));
  const [oid, params] = children(algorithm);
  const oidHex = oid.bytes.toString('hex');
  if (bits.tag !== 0x03 || bits.contents[0] !== 0) throw new Error('subjectPublicKey is not a whole-byte BIT STRING');
  const keyBytes = bits.contents.subarray(1);
  if (oidHex === OID_RSA) {
    const [modulus, exponent] = children(readTlv(keyBytes)).map(unsignedInteger);
    const size = bitLength(modulus);
    return {
      description: `RSA ${size}`,
      keyType: 'rsa',
      allowed: size >= 2048 && size <= 8192,
      load: async () => createPublicKey({ key: { kty: 'RSA', n: modulus.toString('base64url'), e: exponent.toString('base64url') }, format: 'jwk' }),
    };
  }
  if (oidHex === OID_EC) {
    const curve = params ? CURVES[params.bytes.toString('hex')] : undefined;
    if (!curve) return { description: 'EC (unnamed or unknown curve)', keyType: 'ec', allowed: false, load: async () => fromDer(spki) };
    const [crv, description, , allowed] = curve;
    return {
      description,
      keyType: 'ec',
      allowed,
      load: async () => KeyObject.from(await webcrypto.subtle.importKey('raw', keyBytes, { name: 'ECDSA', namedCurve: crv }, true, ['verify'])),
    };
  }
  return { description: OTHER_ALGORITHMS[oidHex] ?? `algorithm ${oidHex}`, keyType: 'other', allowed: false, load: async () => fromDer(spki) };
}
