/**
 * Small DER/PEM helpers. Exact byte ranges (what a signature covers) are cut out here with a TLV reader;
 * field-level decoding and encoding uses node-forge's ASN.1 module.
 */
import { createHash } from 'node:crypto';
import forge from 'node-forge';

const { asn1 } = forge;

export type Asn1 = forge.asn1.Asn1;

export interface Tlv {
  tag: number;
  /** The whole element: tag, length and contents. */
  bytes: Buffer;
  contents: Buffer;
}

/** Reads one DER element at `offset`; throws a message naming what is wrong. */
export function readTlv(buf: Buffer, offset = 0): Tlv {
  if (offset + 2 > buf.length) throw new Error('truncated DER element');
  const tag = buf[offset];
  if ((tag & 0x1f) === 0x1f) throw new Error('multi-byte DER tags are not supported');
  let length = buf[offset + 1];
  let header = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new Error('unsupported DER length encoding');
    if (offset + 2 + count > buf.length) throw new Error('truncated DER length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[offset + 2 + i];
    header += count;
  }
  const end = offset + header + length;
  if (end > buf.length) throw new Error('DER element runs past the end of the data');
  return { tag, bytes: buf.subarray(offset, end), contents: buf.subarray(offset + header, end) };
}

/** The children of a constructed element, in order. */
export function children(element: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let offset = 0;
  while (offset < element.contents.length) {
    const child = readTlv(element.contents, offset);
    out.push(child);
    offset += child.bytes.length;
  }
  return out;
}

/** Encodes one DER element from a tag and its contents (definite length). */
export function encodeTlv(tag: number, contents: Buffer | Buffer[]): Buffer {
  const body = Array.isArray(contents) ? Buffer.concat(contents) : contents;
  const n = body.length;
  let header: Buffer;
  if (n < 0x80) header = Buffer.from([tag, n]);
  else if (n < 0x100) header = Buffer.from([tag, 0x81, n]);
  else if (n < 0x10000) header = Buffer.from([tag, 0x82, n >> 8, n & 0xff]);
  else header = Buffer.from([tag, 0x83, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([header, body]);
}

export function fromDer(buf: Buffer): Asn1 {
  return asn1.fromDer(forge.util.createBuffer(buf.toString('binary')));
}

export function toDer(value: Asn1): Buffer {
  return Buffer.from(asn1.toDer(value).getBytes(), 'binary');
}

export function oidOf(value: Asn1): string {
  return asn1.derToOid(value.value as string);
}

/** Every PEM block of the given label in a text, as DER. */
export function pemBlocks(text: string, labels: readonly string[]): Buffer[] {
  const out: Buffer[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (labels.includes(m[1])) out.push(Buffer.from(m[2].replace(/\s+/g, ''), 'base64'));
  }
  return out;
}

export function derToPem(der: Buffer, label: string): string {
  const base64 = der.toString('base64');
  let body = '';
  for (let i = 0; i < base64.length; i += 64) body += `${base64.slice(i, i + 64)}\n`;
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

/** Splits a PEM bundle into single-certificate PEM strings (normalised). */
export function splitCertificates(text: string): string[] {
  return pemBlocks(text, ['CERTIFICATE']).map((der) => derToPem(der, 'CERTIFICATE'));
}

/** RFC 5280 method 1 key identifier: SHA-1 of the subjectPublicKey bits of a SubjectPublicKeyInfo. */
export function keyIdentifier(spkiDer: Buffer): Buffer {
  const [, bits] = children(readTlv(spkiDer));
  return createHash('sha1').update(bits.contents.subarray(1)).digest();
}

export interface CertificateParts {
  tbs: Buffer;
  subjectName: Buffer;
  spki: Buffer;
  /** The subjectKeyIdentifier extension's value, when present. */
  subjectKeyId?: Buffer;
}

/** Cuts a certificate into the parts a signer needs: its exact subject Name, key and key identifier. */
export function certificateParts(certDer: Buffer): CertificateParts {
  const [tbs] = children(readTlv(certDer));
  const fields = children(tbs);
  const hasVersion = fields[0].tag === 0xa0;
  const base = hasVersion ? 1 : 0;
  const subjectName = fields[base + 4].bytes;
  const spki = fields[base + 5].bytes;
  let subjectKeyId: Buffer | undefined;
  const extensions = fields.find((f) => f.tag === 0xa3);
  if (extensions) {
    for (const ext of children(children(extensions)[0])) {
      const parts = children(ext);
      if (parts[0].contents.equals(Buffer.from([0x55, 0x1d, 0x0e]))) {
        subjectKeyId = readTlv(parts[parts.length - 1].contents).contents;
      }
    }
  }
  return { tbs: tbs.bytes, subjectName, spki, subjectKeyId };
}
