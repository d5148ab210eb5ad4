/**
 * Header edits on plain lower-case header objects: hop-by-hop stripping (RFC 9110 §7.6.1) and the
 * route/virtual-host/route-config add and remove lists, applied in Envoy's order.
 */
import type { HeaderMutations } from './config-route';
import type { FormatSource } from './header-formatter';

export type HeaderMap = Record<string, string | string[] | undefined>;

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'http2-settings', 'trailer']);

/** Copies `src` without hop-by-hop headers, pseudo headers and headers the Connection header names. */
export function copyEndToEnd(src: HeaderMap, keepTeTrailers: boolean): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const conn = src.connection;
  const named = typeof conn === 'string' && conn !== 'keep-alive' && conn !== 'close' ? conn.toLowerCase().split(/\s*,\s*/) : undefined;
  for (const key in src) {
    const v = src[key];
    if (v === undefined || key.charCodeAt(0) === 58 /* : */) continue;
    if (HOP_BY_HOP.has(key)) {
      if (key === 'te' && keepTeTrailers && v === 'trailers') out.te = v;
      continue;
    }
    if (named && named.includes(key)) continue;
    out[key] = v;
  }
  return out;
}

/**
 * Applies removals then additions. Values with %OPERATORS% are formatted from `source` (the stream) and,
 * on the response side (`response` true), from the response headers being built; without a source they
 * format to '' and, like every empty value, are skipped unless keep_empty_value.
 */
export function applyMutations(headers: Record<string, string | string[]>, m: HeaderMutations, source?: FormatSource, response = false): void {
  for (let i = 0; i < m.remove.length; i++) delete headers[m.remove[i]];
  for (let i = 0; i < m.add.length; i++) {
    const op = m.add[i];
    let value = op.value;
    if (op.format !== undefined) {
      value = source ? op.format(source, response ? headers : undefined) : '';
      if (value === '' && !op.keepEmpty) continue;
    }
    const cur = headers[op.name];
    switch (op.action) {
      case 'append':
        headers[op.name] = cur === undefined ? value : Array.isArray(cur) ? [...cur, value] : [cur, value];
        break;
      case 'add-if-absent':
        if (cur === undefined) headers[op.name] = value;
        break;
      case 'overwrite':
        headers[op.name] = value;
        break;
      case 'overwrite-if-exists':
        if (cur !== undefined) headers[op.name] = value;
        break;
    }
  }
}
