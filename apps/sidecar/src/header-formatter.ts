/**
 * Envoy's substitution formatter for header values (request/response headers_to_add): a value with
 * %COMMAND% operators is compiled once, at config time, into a list of parts; a value without any '%'
 * stays a literal and costs nothing per request. Supported: %REQ(h?alt):max%, %RESP(h?alt):max%,
 * %DOWNSTREAM_REMOTE_ADDRESS%, %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%, %DOWNSTREAM_LOCAL_ADDRESS%,
 * %DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%, %UPSTREAM_REMOTE_ADDRESS%, %START_TIME(fmt)%, %PROTOCOL%,
 * %HOSTNAME%, %REQUESTED_SERVER_NAME%, %DOWNSTREAM_PEER_URI_SAN%, %UPSTREAM_METADATA([...])% (this proxy
 * keeps no host metadata: empty), and %% for a literal '%'. Anything else is refused with the field path,
 * as Envoy refuses it. A value that formats to '' is not added (HeaderValueOption.keep_empty_value).
 */
import { hostname } from 'node:os';
import type * as tls from 'node:tls';

/** What a formatter reads: the downstream request and, on the response side, the response headers. */
export interface FormatSource {
  readonly req: { readonly socket: unknown; readonly httpVersion: string };
  /** request headers, pseudo headers (:method, :path, :authority, :scheme) included */
  readonly query: { header(name: string): string | undefined };
  readonly startEpochMs: number;
  readonly upstreamHost: string;
}

export type HeaderFormatter = (s: FormatSource, response: Record<string, string | string[]> | undefined) => string;

type Part = string | HeaderFormatter;

const HOST = hostname();
const COMMAND = /^%([A-Z]|[A-Z][A-Z0-9_]*[A-Z0-9])(\((?:[^)]|\)(?!%|:\d))*\))?(:\d+)?%/;

interface SocketLike {
  remoteAddress?: string;
  remotePort?: number;
  localAddress?: string;
  localPort?: number;
  servername?: string | false;
  getPeerCertificate?: () => tls.PeerCertificate | Record<string, never>;
}

function withPort(ip: string | undefined, port: number | undefined): string {
  if (!ip) return '';
  const bare = ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
  return bare.includes(':') ? `[${bare}]:${port ?? 0}` : `${bare}:${port ?? 0}`;
}

function withoutPort(ip: string | undefined): string {
  if (!ip) return '';
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

function headerValue(h: Record<string, string | string[] | undefined> | undefined, name: string): string | undefined {
  const v = h?.[name];
  return v === undefined ? undefined : Array.isArray(v) ? v.join(',') : v;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** A strftime subset (what Envoy users write): %Y %m %d %H %M %S %s %z %Z %f %3f %6f %9f %E3S %E6S %E9S %j %a %b %%. */
function compileTime(format: string): (epochMs: number) => string {
  if (format === '') return (ms) => new Date(ms).toISOString();
  const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const parts: ((d: Date, ms: number) => string)[] = [];
  const re = /%(E[369]S|[369]?f|[YmdHMSszZjabe%])/g;
  let last = 0;
  for (let m = re.exec(format); m; m = re.exec(format)) {
    const lit = format.slice(last, m.index);
    if (lit) parts.push(() => lit);
    last = m.index + m[0].length;
    const frac = (digits: number) => (_d: Date, ms: number) => String(Math.floor(ms % 1000) * 1e6).padStart(9, '0').slice(0, digits);
    switch (m[1]) {
      case 'Y': parts.push((d) => String(d.getUTCFullYear())); break;
      case 'm': parts.push((d) => pad(d.getUTCMonth() + 1)); break;
      case 'd': parts.push((d) => pad(d.getUTCDate())); break;
      case 'e': parts.push((d) => String(d.getUTCDate()).padStart(2, ' ')); break;
      case 'H': parts.push((d) => pad(d.getUTCHours())); break;
      case 'M': parts.push((d) => pad(d.getUTCMinutes())); break;
      case 'S': parts.push((d) => pad(d.getUTCSeconds())); break;
      case 's': parts.push((_d, ms) => String(Math.floor(ms / 1000))); break;
      case 'z': parts.push(() => '+0000'); break;
      case 'Z': parts.push(() => 'UTC'); break;
      case 'j': parts.push((d) => pad(Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1, 3)); break;
      case 'a': parts.push((d) => DAYS[d.getUTCDay()]); break;
      case 'b': parts.push((d) => MONTHS[d.getUTCMonth()]); break;
      case '%': parts.push(() => '%'); break;
      case 'f': case '9f': parts.push(frac(9)); break;
      case '3f': parts.push(frac(3)); break;
      case '6f': parts.push(frac(6)); break;
      default: {
        const digits = Number(m[1][1]);
        const f = frac(digits);
        parts.push((d, ms) => `${pad(d.getUTCSeconds())}.${f(d, ms)}`);
      }
    }
  }
  const tail = format.slice(last);
  if (tail) parts.push(() => tail);
  return (ms) => {
    const d = new Date(ms);
    let out = '';
    for (const p of parts) out += p(d, ms);
    return out;
  };
}

function socketOf(s: FormatSource): SocketLike {
  return (s.req.socket ?? {}) as SocketLike;
}

function peerUriSans(sock: SocketLike): string {
  if (typeof sock.getPeerCertificate !== 'function') return '';
  const cert = sock.getPeerCertificate();
  const alt = (cert as tls.PeerCertificate).subjectaltname;
  if (!alt) return '';
  return alt.split(', ').filter((e) => e.startsWith('URI:')).map((e) => e.slice(4)).join(',');
}

/** One operator, or an error message (Envoy's wording where it has one). */
function operator(name: string, arg: string | undefined, max: number | undefined): HeaderFormatter | string {
  const cap = (f: HeaderFormatter): HeaderFormatter => (max === undefined ? f : (s, r) => f(s, r).slice(0, max));
  const noArg = (f: HeaderFormatter): HeaderFormatter | string => (arg === undefined ? cap(f) : `${name} does not take an argument`);
  switch (name) {
    case 'REQ':
    case 'RESP': {
      if (!arg) return `${name} needs a header name: %${name}(name)%`;
      const [main, alt, extra] = arg.split('?').map((x) => x.toLowerCase());
      if (extra !== undefined || !main) return `more than 1 alternative header specified in token: ${arg}`;
      if (name === 'REQ') return cap((s) => s.query.header(main) ?? (alt ? s.query.header(alt) : undefined) ?? '');
      return cap((_s, r) => (r ? headerValue(r, main) ?? (alt ? headerValue(r, alt) : undefined) ?? '' : ''));
    }
    case 'DOWNSTREAM_REMOTE_ADDRESS':
      return noArg((s) => withPort(socketOf(s).remoteAddress, socketOf(s).remotePort));
    case 'DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT':
    case 'DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT':
      return noArg((s) => withoutPort(socketOf(s).remoteAddress));
    case 'DOWNSTREAM_DIRECT_REMOTE_ADDRESS':
      return noArg((s) => withPort(socketOf(s).remoteAddress, socketOf(s).remotePort));
    case 'DOWNSTREAM_LOCAL_ADDRESS':
      return noArg((s) => withPort(socketOf(s).localAddress, socketOf(s).localPort));
    case 'DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT':
      return noArg((s) => withoutPort(socketOf(s).localAddress));
    case 'UPSTREAM_REMOTE_ADDRESS':
      return noArg((s) => s.upstreamHost);
    case 'START_TIME': {
      const f = compileTime(arg ?? '');
      return cap((s) => f(s.startEpochMs));
    }
    case 'PROTOCOL':
      return noArg((s) => `HTTP/${s.req.httpVersion === '2.0' ? '2' : s.req.httpVersion}`);
    case 'HOSTNAME':
      return noArg(() => HOST);
    case 'REQUESTED_SERVER_NAME':
      return noArg((s) => {
        const n = socketOf(s).servername;
        return typeof n === 'string' ? n : '';
      });
    case 'DOWNSTREAM_PEER_URI_SAN':
      return noArg((s) => peerUriSans(socketOf(s)));
    case 'UPSTREAM_METADATA':
    case 'DYNAMIC_METADATA':
    case 'CLUSTER_METADATA':
      if (!arg || !/^\[\s*"[^"]*"(\s*,\s*"[^"]*")+\s*\]$/.test(arg)) return `${name} needs a JSON list of at least 2 strings: %${name}(["namespace","key"])%`;
      return () => '';
    default:
      return `Not supported field in StreamInfo: ${name}`;
  }
}

/**
 * The value compiled: a string when it has no operator (after %% unescaping), a formatter otherwise, or an
 * error message naming what is wrong and where in the value.
 */
export function compileHeaderValue(value: string): { literal: string } | { format: HeaderFormatter } | { error: string } {
  if (!value.includes('%')) return { literal: value };
  const parts: Part[] = [];
  let lit = '';
  let i = 0;
  while (i < value.length) {
    const pct = value.indexOf('%', i);
    if (pct < 0) {
      lit += value.slice(i);
      break;
    }
    lit += value.slice(i, pct);
    if (value[pct + 1] === '%') {
      lit += '%';
      i = pct + 2;
      continue;
    }
    const m = COMMAND.exec(value.slice(pct));
    if (!m) return { error: `Incorrect configuration: ${value}. Couldn't find valid command at position ${pct}` };
    const arg = m[2] !== undefined ? m[2].slice(1, -1) : undefined;
    const op = operator(m[1], arg, m[3] !== undefined ? Number(m[3].slice(1)) : undefined);
    if (typeof op === 'string') return { error: op };
    if (lit) parts.push(lit);
    lit = '';
    parts.push(op);
    i = pct + m[0].length;
  }
  if (lit) parts.push(lit);
  if (parts.every((p) => typeof p === 'string')) return { literal: parts.join('') };
  if (parts.length === 1 && typeof parts[0] !== 'string') return { format: parts[0] };
  return {
    format: (s, r) => {
      let out = '';
      for (const p of parts) out += typeof p === 'string' ? p : p(s, r);
      return out;
    },
  };
}
