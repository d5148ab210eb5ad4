/**
 * Hand-written protobuf encoding of the two discovery responses, so that a push concatenates bytes that
 * were encoded once per resource (cached on the Snapshot's resources) instead of re-encoding every Any for
 * every proxy. Field numbers from envoy/service/discovery/v3/discovery.proto:
 *   DiscoveryResponse: version_info 1, resources 2 (Any), type_url 4, nonce 5
 *   DeltaDiscoveryResponse: system_version_info 1, resources 2 (Resource), type_url 4, nonce 5,
 *     removed_resources 6
 *   Resource: version 1, resource 2 (Any), name 3;  Any: type_url 1, value 2
 */

const WIRE_LEN = 2;

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, offset: number, n: number): number {
  while (n >= 0x80) {
    buf[offset++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[offset++] = n;
  return offset;
}

/** Tag + length + bytes of a length-delimited field. */
export function lenField(field: number, bytes: Buffer): Buffer {
  const tag = (field << 3) | WIRE_LEN;
  const out = Buffer.allocUnsafe(varintSize(tag) + varintSize(bytes.length) + bytes.length);
  let o = writeVarint(out, 0, tag);
  o = writeVarint(out, o, bytes.length);
  bytes.copy(out, o);
  return out;
}

export function stringField(field: number, value: string): Buffer {
  return value === '' ? EMPTY : lenField(field, Buffer.from(value, 'utf8'));
}

const EMPTY = Buffer.alloc(0);

/** The bytes of a google.protobuf.Any. */
export function anyBytes(typeUrl: string, value: Buffer): Buffer {
  return Buffer.concat([stringField(1, typeUrl), lenField(2, value)]);
}

/** DiscoveryResponse.resources entry (field 2) for an Any. */
export function sotwResourceEntry(typeUrl: string, value: Buffer): Buffer {
  return lenField(2, anyBytes(typeUrl, value));
}

/** DeltaDiscoveryResponse.resources entry (field 2) for a Resource {name, version, resource}. */
export function deltaResourceEntry(name: string, version: string, typeUrl: string, value: Buffer): Buffer {
  return lenField(2, Buffer.concat([stringField(1, version), lenField(2, anyBytes(typeUrl, value)), stringField(3, name)]));
}

export function encodeDiscoveryResponse(version: string, entries: readonly Buffer[], typeUrl: string, nonce: string): Buffer {
  return Buffer.concat([stringField(1, version), ...entries, stringField(4, typeUrl), stringField(5, nonce)]);
}

export function encodeDeltaDiscoveryResponse(
  systemVersion: string,
  entries: readonly Buffer[],
  typeUrl: string,
  removed: readonly string[],
  nonce: string,
): Buffer {
  const parts = [stringField(1, systemVersion), ...entries, stringField(4, typeUrl), stringField(5, nonce)];
  for (const name of removed) parts.push(lenField(6, Buffer.from(name, 'utf8')));
  return Buffer.concat(parts);
}
