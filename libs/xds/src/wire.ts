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

/**
 * Encoded string fields that every response of a push repeats (type URL, version): encoded once, not once
 * per stream. Bounded: cleared when it grows past a few hundred distinct values.
 */
const fieldCache = new Map<number, Map<string, Buffer>>();

function cachedStringField(field: number, value: string): Buffer {
  // Keyed by field, then by the value itself (no key string built per call: this runs per response).
  let byValue = fieldCache.get(field);
  if (!byValue) {
    byValue = new Map();
    fieldCache.set(field, byValue);
  }
  let buf = byValue.get(value);
  if (!buf) {
    if (byValue.size >= 512) byValue.clear();
    // Its own memory: a small pooled slice would keep a whole 8 KB pool slab alive while cached.
    const pooled = stringField(field, value);
    buf = Buffer.allocUnsafeSlow(pooled.length);
    pooled.copy(buf);
    byValue.set(value, buf);
  }
  return buf;
}

/** The parts of a response in one allocation (no intermediate arrays of the whole response). */
function join(head: Buffer, entries: readonly Buffer[], tail: readonly Buffer[]): Buffer {
  let size = head.length;
  for (const e of entries) size += e.length;
  for (const t of tail) size += t.length;
  const out = Buffer.allocUnsafe(size);
  let o = head.copy(out, 0);
  for (const e of entries) o += e.copy(out, o);
  for (const t of tail) o += t.copy(out, o);
  return out;
}

export function encodeDiscoveryResponse(version: string, entries: readonly Buffer[], typeUrl: string, nonce: string): Buffer {
  return join(cachedStringField(1, version), entries, [cachedStringField(4, typeUrl), stringField(5, nonce)]);
}

export function encodeDeltaDiscoveryResponse(
  systemVersion: string,
  entries: readonly Buffer[],
  typeUrl: string,
  removed: readonly string[],
  nonce: string,
): Buffer {
  const tail = [cachedStringField(4, typeUrl), stringField(5, nonce)];
  for (const name of removed) tail.push(lenField(6, Buffer.from(name, 'utf8')));
  return join(cachedStringField(1, systemVersion), entries, tail);
}

/**
 * Requests, the other way: most requests on a busy server are ACKs (type URL, nonce, version, names). Those
 * are read here field by field; anything else (a node, an error_detail, initial versions, locators, an
 * unexpected wire type) returns undefined and the caller uses the full protobuf decoder. Field numbers:
 *   DiscoveryRequest: version_info 1, resource_names 3, type_url 4, response_nonce 5
 *   DeltaDiscoveryRequest: type_url 2, resource_names_subscribe 3, resource_names_unsubscribe 4, response_nonce 6
 */
export function decodeSimpleDiscoveryRequest(buf: Buffer): Record<string, unknown> | undefined {
  const out = { version_info: '', node: null, resource_names: [] as string[], type_url: '', response_nonce: '', error_detail: null };
  return readStrings(buf, (field, value) => {
    if (field === 1) out.version_info = value;
    else if (field === 3) out.resource_names.push(value);
    else if (field === 4) out.type_url = value;
    else if (field === 5) out.response_nonce = value;
    else return false;
    return true;
  })
    ? out
    : undefined;
}

export function decodeSimpleDeltaDiscoveryRequest(buf: Buffer): Record<string, unknown> | undefined {
  const out = {
    node: null,
    type_url: '',
    resource_names_subscribe: [] as string[],
    resource_names_unsubscribe: [] as string[],
    initial_resource_versions: {},
    response_nonce: '',
    error_detail: null,
  };
  return readStrings(buf, (field, value) => {
    if (field === 2) out.type_url = value;
    else if (field === 3) out.resource_names_subscribe.push(value);
    else if (field === 4) out.resource_names_unsubscribe.push(value);
    else if (field === 6) out.response_nonce = value;
    else return false;
    return true;
  })
    ? out
    : undefined;
}

/** Walks length-delimited fields of a message; false if a field is not one `take` accepts or the bytes are malformed. */
function readStrings(buf: Buffer, take: (field: number, value: string) => boolean): boolean {
  let o = 0;
  while (o < buf.length) {
    const tag = readVarint(buf, o);
    if (!tag) return false;
    o = tag.next;
    if ((tag.value & 7) !== WIRE_LEN) return false;
    const len = readVarint(buf, o);
    if (!len || len.next + len.value > buf.length) return false;
    if (!take(Math.floor(tag.value / 8), buf.toString('utf8', len.next, len.next + len.value))) return false;
    o = len.next + len.value;
  }
  return true;
}

function readVarint(buf: Buffer, offset: number): { value: number; next: number } | undefined {
  let value = 0;
  let scale = 1;
  for (let o = offset; o < buf.length && o < offset + 5; o++) {
    const b = buf[o] as number;
    value += (b & 0x7f) * scale;
    if (b < 0x80) return { value, next: o + 1 };
    scale *= 128;
  }
  return undefined;
}
