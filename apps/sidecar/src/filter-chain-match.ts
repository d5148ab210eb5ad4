/**
 * filter_chain_match: compiled at config time, evaluated once per connection in Envoy's order of
 * precedence. At each step the most specific value that matches the connection wins and only the chains
 * with that value go on to the next step (no backtracking): destination_port (exact beats any),
 * prefix_ranges on the local address (longest prefix), server_names (exact, then the longest *.suffix,
 * then none), transport_protocol, application_protocols (the client's first ALPN any chain names),
 * direct_source_prefix_ranges, source_type, source_prefix_ranges, source_ports. Nothing left: the
 * listener's default_filter_chain, else the connection is closed.
 */
import { cidrContains, compileCidr, parseIp, type Cidr } from './config-cidr';
import { arr, isObj, str, wrappedNum, type Issues, type Obj } from './config-fields';

export type SourceType = 'ANY' | 'SAME_IP_OR_LOOPBACK' | 'EXTERNAL';

export interface FilterChainMatch {
  /** 0 = any */
  destinationPort: number;
  prefixRanges: Cidr[];
  /** lower case; '*.example.com' wildcards */
  serverNames: string[];
  /** 'tls', 'raw_buffer' or '' (any) */
  transportProtocol: string;
  applicationProtocols: string[];
  directSourcePrefixRanges: Cidr[];
  sourceType: SourceType;
  sourcePrefixRanges: Cidr[];
  sourcePorts: number[];
}

/** What is known about a connection when its chain is chosen. */
export interface ConnectionFacts {
  localIp: Uint8Array | undefined;
  localPort: number;
  remoteIp: Uint8Array | undefined;
  remotePort: number;
  /** remote is 127.0.0.1 / ::1 or the same IP as local (Envoy's SAME_IP_OR_LOOPBACK) */
  local: boolean;
  transport: string;
  sni: string;
  alpn: readonly string[];
}

export const EMPTY_MATCH: FilterChainMatch = {
  destinationPort: 0, prefixRanges: [], serverNames: [], transportProtocol: '', applicationProtocols: [], directSourcePrefixRanges: [], sourceType: 'ANY', sourcePrefixRanges: [], sourcePorts: [],
};

const SOURCE_TYPES: Record<string, SourceType> = { ANY: 'ANY', SAME_IP_OR_LOOPBACK: 'SAME_IP_OR_LOOPBACK', LOCAL: 'SAME_IP_OR_LOOPBACK', EXTERNAL: 'EXTERNAL' };

function cidrs(o: Obj, key: string, path: string, issues: Issues): Cidr[] {
  const out: Cidr[] = [];
  for (const [i, c] of arr(o, key, path, issues).entries()) {
    const cp = `${path}.${key}[${i}]`;
    if (!isObj(c)) issues.add(cp, 'expected a CidrRange');
    else {
      const r = compileCidr(c, cp, issues);
      if (r) out.push(r);
    }
  }
  return out;
}

export function compileFilterChainMatch(m: Obj | undefined, path: string, issues: Issues): FilterChainMatch {
  if (!m) return EMPTY_MATCH;
  const transportProtocol = str(m, 'transport_protocol');
  if (transportProtocol !== '' && transportProtocol !== 'tls' && transportProtocol !== 'raw_buffer') {
    issues.add(`${path}.transport_protocol`, `must be "tls" or "raw_buffer", got "${transportProtocol}"`);
  }
  const serverNames: string[] = [];
  for (const [i, n] of arr(m, 'server_names', path, issues).entries()) {
    const name = typeof n === 'string' ? n.toLowerCase() : '';
    if (name === '' || (name.includes('*') && (!name.startsWith('*.') || name.indexOf('*', 1) >= 0))) {
      issues.add(`${path}.server_names[${i}]`, `"${String(n)}": partial wildcards are not supported in server_names (only a leading "*.")`);
    } else serverNames.push(name);
  }
  const destinationPort = wrappedNum(m, 'destination_port', 0);
  if (!Number.isInteger(destinationPort) || destinationPort < 0 || destinationPort > 65535) issues.add(`${path}.destination_port`, `must be a port 1-65535, got ${destinationPort}`);
  const sourcePorts: number[] = [];
  for (const [i, p] of arr(m, 'source_ports', path, issues).entries()) {
    const port = Number(p);
    if (!Number.isInteger(port) || port < 1 || port > 65535) issues.add(`${path}.source_ports[${i}]`, `must be a port 1-65535, got ${String(p)}`);
    else sourcePorts.push(port);
  }
  const st = str(m, 'source_type') || 'ANY';
  const sourceType = SOURCE_TYPES[st];
  if (!sourceType) issues.add(`${path}.source_type`, `must be ANY, SAME_IP_OR_LOOPBACK or EXTERNAL, got "${st}"`);
  return {
    destinationPort,
    prefixRanges: cidrs(m, 'prefix_ranges', path, issues),
    serverNames,
    transportProtocol,
    applicationProtocols: arr(m, 'application_protocols', path, issues).filter((x): x is string => typeof x === 'string' && x !== ''),
    directSourcePrefixRanges: cidrs(m, 'direct_source_prefix_ranges', path, issues),
    sourceType: sourceType ?? 'ANY',
    sourcePrefixRanges: cidrs(m, 'source_prefix_ranges', path, issues),
    sourcePorts,
  };
}

/** Chains whose match needs the ClientHello (Envoy injects a TLS inspector for them when none is configured). */
export function needsTlsInspector(m: FilterChainMatch): boolean {
  return m.transportProtocol === 'tls' || (m.transportProtocol === '' && (m.serverNames.length > 0 || m.applicationProtocols.length > 0));
}

/** Longest prefix among `ranges` containing `ip`; 0 for no ranges (any address); -1 when none contains it. */
function prefixScore(ranges: readonly Cidr[], ip: Uint8Array | undefined): number {
  if (ranges.length === 0) return 0;
  let best = -1;
  for (const r of ranges) if (r.len > best && cidrContains(r, ip)) best = r.len;
  return best;
}

function serverNameScore(names: readonly string[], sni: string): number {
  if (names.length === 0) return 0;
  let best = -1;
  for (const n of names) {
    if (n === sni) return 1 << 20;
    // '*.example.com' matches 'a.example.com' and 'a.b.example.com', not 'example.com'
    if (n.startsWith('*.') && sni.length > n.length - 1 && sni.endsWith(n.slice(1)) && n.length > best) best = n.length;
  }
  return best;
}

function alpnScore(protocols: readonly string[], alpn: readonly string[]): number {
  if (protocols.length === 0) return 0;
  for (let i = 0; i < alpn.length; i++) if (protocols.includes(alpn[i])) return alpn.length - i;
  return -1;
}

/** Envoy's order of precedence; each scorer: -1 no match, 0 matches anything, higher = more specific. */
const STEPS: readonly ((m: FilterChainMatch, f: ConnectionFacts) => number)[] = [
  (m, f) => (m.destinationPort === 0 ? 0 : m.destinationPort === f.localPort ? 1 : -1),
  (m, f) => prefixScore(m.prefixRanges, f.localIp),
  (m, f) => serverNameScore(m.serverNames, f.sni),
  (m, f) => (m.transportProtocol === '' ? 0 : m.transportProtocol === f.transport ? 1 : -1),
  (m, f) => alpnScore(m.applicationProtocols, f.alpn),
  (m, f) => prefixScore(m.directSourcePrefixRanges, f.remoteIp),
  (m, f) => (m.sourceType === 'ANY' ? 0 : (m.sourceType === 'SAME_IP_OR_LOOPBACK') === f.local ? 1 : -1),
  (m, f) => prefixScore(m.sourcePrefixRanges, f.remoteIp),
  (m, f) => (m.sourcePorts.length === 0 ? 0 : m.sourcePorts.includes(f.remotePort) ? 1 : -1),
];

/** The chain for a connection, or undefined (the caller falls back to default_filter_chain). */
export function selectChain<T>(chains: readonly T[], matchOf: (chain: T) => FilterChainMatch, f: ConnectionFacts): T | undefined {
  let candidates = chains;
  for (const step of STEPS) {
    if (candidates.length === 0) return undefined;
    if (candidates.length === 1) {
      if (step(matchOf(candidates[0]), f) < 0) return undefined;
      continue;
    }
    let best = -1;
    let kept: T[] = [];
    for (const c of candidates) {
      const s = step(matchOf(c), f);
      if (s > best) {
        best = s;
        kept = [c];
      } else if (s === best && s >= 0) kept.push(c);
    }
    candidates = kept;
  }
  return candidates[0];
}

export function connectionFacts(local: { address?: string; port?: number }, remote: { address?: string; port?: number }, seen: { transport: string; sni: string; alpn: readonly string[] }): ConnectionFacts {
  const localIp = parseIp(local.address ?? '');
  const remoteIp = parseIp(remote.address ?? '');
  // Envoy's loopback here is exactly 127.0.0.1 or ::1 (not all of 127/8)
  const loopback = remoteIp !== undefined && (remoteIp.length === 4 ? remoteIp[0] === 127 && remoteIp[1] === 0 && remoteIp[2] === 0 && remoteIp[3] === 1 : remoteIp.every((b, i) => b === (i === 15 ? 1 : 0)));
  const same = localIp !== undefined && remoteIp !== undefined && localIp.length === remoteIp.length && localIp.every((b, i) => b === remoteIp[i]);
  return { localIp, localPort: local.port ?? 0, remoteIp, remotePort: remote.port ?? 0, local: loopback || same, transport: seen.transport, sni: seen.sni, alpn: seen.alpn };
}

/** Every combination of match values, for Envoy's check that no two chains share one (capped). */
function combinations(m: FilterChainMatch): string[] | undefined {
  const axes: string[][] = [
    [String(m.destinationPort)],
    m.prefixRanges.length ? m.prefixRanges.map((c) => `${Buffer.from(c.bytes).toString('hex')}/${c.len}`) : [''],
    m.serverNames.length ? m.serverNames : [''],
    [m.transportProtocol],
    m.applicationProtocols.length ? m.applicationProtocols : [''],
    m.directSourcePrefixRanges.length ? m.directSourcePrefixRanges.map((c) => `${Buffer.from(c.bytes).toString('hex')}/${c.len}`) : [''],
    [m.sourceType],
    m.sourcePrefixRanges.length ? m.sourcePrefixRanges.map((c) => `${Buffer.from(c.bytes).toString('hex')}/${c.len}`) : [''],
    m.sourcePorts.length ? m.sourcePorts.map(String) : [''],
  ];
  if (axes.reduce((n, a) => n * a.length, 1) > 10_000) return undefined;
  let out = [''];
  for (const a of axes) out = out.flatMap((prefix) => a.map((v) => `${prefix}|${v}`));
  return out;
}

/** Envoy refuses a listener where two filter chains have the same matching rules. */
export function checkDistinctMatches(chains: readonly { match: FilterChainMatch; name: string }[], paths: readonly string[], issues: Issues): void {
  const seen = new Map<string, number>();
  for (const [i, c] of chains.entries()) {
    for (const key of combinations(c.match) ?? []) {
      const other = seen.get(key);
      if (other !== undefined && other !== i) {
        issues.add(`${paths[i]}.filter_chain_match`, `multiple filter chains with the same matching rules are defined (same as ${paths[other]}${chains[other].name ? ` "${chains[other].name}"` : ''})`);
        break;
      }
      seen.set(key, i);
    }
  }
}
