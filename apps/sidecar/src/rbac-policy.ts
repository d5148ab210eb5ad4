/**
 * Envoy's RBAC (envoy.config.rbac.v3.RBAC) compiled once into predicates and evaluated per request or
 * connection, with Envoy's semantics: ALLOW allows only what one policy matches; DENY denies what one
 * policy matches; LOG always allows and records the match (Istio's AUDIT). A policy matches when any of its
 * permissions AND any of its principals match.
 */
import { arr, fullRegex, isObj, Issues, num, obj, oneof, str, stringMatcher, wrappedNum, type Obj } from './config-fields';

/** What RBAC can look at. Header values are lower-case-keyed (Node's `req.headers`). */
export interface RbacInput {
  /** the verified peer SPIFFE id ('' without mTLS) */
  principal: string;
  /** the connection's remote address (direct_remote_ip / source_ip / remote_ip) */
  remoteIp: string;
  destinationIp: string;
  destinationPort: number;
  /** undefined for network (TCP) RBAC: header/path rules never match there */
  headers: Record<string, string | string[] | undefined> | undefined;
  path: string | undefined;
}

type Pred = (i: RbacInput) => boolean;

export interface RbacRules {
  action: 'ALLOW' | 'DENY' | 'LOG';
  policies: { name: string; matches: Pred }[];
}

export interface RbacDecision {
  allowed: boolean;
  /** the policy that matched ('' when none) */
  policy: string;
}

const NEVER: Pred = () => false;
const ALWAYS: Pred = () => true;

function ipToBigInt(ip: string): { v: bigint; bits: number } | undefined {
  let s = ip;
  if (s.startsWith('::ffff:') && s.includes('.')) s = s.slice(7);
  if (s.includes('.')) {
    const p = s.split('.').map(Number);
    if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) return undefined;
    return { v: BigInt(((p[0] << 24) >>> 0) + (p[1] << 16) + (p[2] << 8) + p[3]), bits: 32 };
  }
  if (!s.includes(':')) return undefined;
  const [head, tail = ''] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = s.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = s.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  if (groups.length !== 8) return undefined;
  let v = 0n;
  for (const g of groups) v = (v << 16n) + BigInt(parseInt(g || '0', 16));
  return { v, bits: 128 };
}

/** envoy.config.core.v3.CidrRange as a predicate on an address. */
function cidr(o: Obj, path: string, issues: Issues): (ip: string) => boolean {
  const base = ipToBigInt(str(o, 'address_prefix'));
  if (!base) {
    issues.add(`${path}.address_prefix`, `is not an IP address: "${str(o, 'address_prefix')}"`);
    return () => false;
  }
  const len = wrappedNum(o, 'prefix_len', base.bits);
  if (len < 0 || len > base.bits) issues.add(`${path}.prefix_len`, `must be 0..${base.bits}`);
  const shift = BigInt(base.bits - len);
  const want = base.v >> shift;
  return (ip) => {
    const got = ipToBigInt(ip);
    return got !== undefined && got.bits === base.bits && got.v >> shift === want;
  };
}

/** envoy.config.route.v3.HeaderMatcher. */
function header(o: Obj, path: string, issues: Issues): Pred {
  const name = str(o, 'name').toLowerCase();
  if (!name) issues.add(`${path}.name`, 'is required');
  const invert = o.invert_match === true;
  const kind = oneof(o, ['string_match', 'exact_match', 'prefix_match', 'suffix_match', 'contains_match', 'safe_regex_match', 'present_match', 'range_match']);
  let test: (v: string | undefined) => boolean;
  switch (kind) {
    case 'string_match': {
      const m = stringMatcher(obj(o, 'string_match', path, issues) ?? {}, `${path}.string_match`, issues);
      test = (v) => v !== undefined && m(v);
      break;
    }
    case 'exact_match':
      test = (v) => v === str(o, 'exact_match');
      break;
    case 'prefix_match':
      test = (v) => v !== undefined && v.startsWith(str(o, 'prefix_match'));
      break;
    case 'suffix_match':
      test = (v) => v !== undefined && v.endsWith(str(o, 'suffix_match'));
      break;
    case 'contains_match':
      test = (v) => v !== undefined && v.includes(str(o, 'contains_match'));
      break;
    case 'safe_regex_match': {
      const re = fullRegex(str(obj(o, 'safe_regex_match', path, issues) ?? {}, 'regex'), `${path}.safe_regex_match.regex`, issues);
      test = (v) => v !== undefined && re !== undefined && re.test(v);
      break;
    }
    case 'present_match':
      test = (v) => v !== undefined;
      break;
    default:
      issues.add(path, kind ? `header match ${kind} is not supported` : 'needs a match (string_match, exact_match, present_match, ...)');
      test = () => false;
  }
  return (i) => {
    if (!i.headers) return false;
    const raw = i.headers[name];
    const v = Array.isArray(raw) ? raw.join(',') : raw;
    return test(v) !== invert;
  };
}

function pathMatcher(o: Obj, path: string, issues: Issues): Pred {
  const m = stringMatcher(obj(o, 'path', path, issues) ?? {}, `${path}.path`, issues);
  return (i) => {
    if (i.path === undefined) return false;
    const q = i.path.indexOf('?');
    return m(q < 0 ? i.path : i.path.slice(0, q));
  };
}

const PERMISSION_KEYS = ['any', 'and_rules', 'or_rules', 'not_rule', 'header', 'url_path', 'destination_ip', 'destination_port', 'destination_port_range'] as const;

function permission(p: unknown, path: string, issues: Issues): Pred {
  if (!isObj(p)) return NEVER;
  const kind = oneof(p, PERMISSION_KEYS);
  switch (kind) {
    case 'any':
      return ALWAYS;
    case 'and_rules':
    case 'or_rules': {
      const rules = arr(obj(p, kind, path, issues) ?? {}, 'rules', `${path}.${kind}`, issues).map((r, i) => permission(r, `${path}.${kind}.rules[${i}]`, issues));
      return kind === 'and_rules' ? (i) => rules.every((r) => r(i)) : (i) => rules.some((r) => r(i));
    }
    case 'not_rule': {
      const inner = permission(p.not_rule, `${path}.not_rule`, issues);
      return (i) => !inner(i);
    }
    case 'header':
      return header(obj(p, 'header', path, issues) ?? {}, `${path}.header`, issues);
    case 'url_path':
      return pathMatcher(obj(p, 'url_path', path, issues) ?? {}, `${path}.url_path`, issues);
    case 'destination_ip': {
      const m = cidr(obj(p, 'destination_ip', path, issues) ?? {}, `${path}.destination_ip`, issues);
      return (i) => m(i.destinationIp);
    }
    case 'destination_port': {
      const port = num(p, 'destination_port', 0);
      return (i) => i.destinationPort === port;
    }
    case 'destination_port_range': {
      const r = obj(p, 'destination_port_range', path, issues) ?? {};
      const start = num(r, 'start', 0);
      const end = num(r, 'end', 0);
      return (i) => i.destinationPort >= start && i.destinationPort < end;
    }
    default:
      issues.add(path, 'needs one of any, and_rules, or_rules, not_rule, header, url_path, destination_ip, destination_port');
      return NEVER;
  }
}

const PRINCIPAL_KEYS = ['any', 'and_ids', 'or_ids', 'not_id', 'authenticated', 'source_ip', 'direct_remote_ip', 'remote_ip', 'header', 'url_path'] as const;

function principal(p: unknown, path: string, issues: Issues): Pred {
  if (!isObj(p)) return NEVER;
  const kind = oneof(p, PRINCIPAL_KEYS);
  switch (kind) {
    case 'any':
      return ALWAYS;
    case 'and_ids':
    case 'or_ids': {
      const ids = arr(obj(p, kind, path, issues) ?? {}, 'ids', `${path}.${kind}`, issues).map((r, i) => principal(r, `${path}.${kind}.ids[${i}]`, issues));
      return kind === 'and_ids' ? (i) => ids.every((r) => r(i)) : (i) => ids.some((r) => r(i));
    }
    case 'not_id': {
      const inner = principal(p.not_id, `${path}.not_id`, issues);
      return (i) => !inner(i);
    }
    case 'authenticated': {
      const a = obj(p, 'authenticated', path, issues) ?? {};
      const nameMatcher = obj(a, 'principal_name', `${path}.authenticated`, issues);
      // Without principal_name Envoy matches any authenticated (mTLS) peer.
      if (!nameMatcher) return (i) => i.principal !== '';
      const m = stringMatcher(nameMatcher, `${path}.authenticated.principal_name`, issues);
      return (i) => i.principal !== '' && m(i.principal);
    }
    case 'source_ip':
    case 'direct_remote_ip':
    case 'remote_ip': {
      const m = cidr(obj(p, kind, path, issues) ?? {}, `${path}.${kind}`, issues);
      return (i) => m(i.remoteIp);
    }
    case 'header':
      return header(obj(p, 'header', path, issues) ?? {}, `${path}.header`, issues);
    case 'url_path':
      return pathMatcher(obj(p, 'url_path', path, issues) ?? {}, `${path}.url_path`, issues);
    default:
      issues.add(path, 'needs one of any, and_ids, or_ids, not_id, authenticated, source_ip, direct_remote_ip, remote_ip, header, url_path');
      return NEVER;
  }
}

/** envoy.config.rbac.v3.RBAC compiled; policies in name order (Envoy reports the first match by name). */
export function compileRbacRules(rules: Obj, path: string, issues: Issues): RbacRules {
  const action = str(rules, 'action') || 'ALLOW';
  if (action !== 'ALLOW' && action !== 'DENY' && action !== 'LOG') issues.add(`${path}.action`, `unsupported action ${action}`);
  const policies: RbacRules['policies'] = [];
  const raw = obj(rules, 'policies', path, issues) ?? {};
  for (const name of Object.keys(raw).sort()) {
    const p = raw[name];
    const pp = `${path}.policies["${name}"]`;
    if (!isObj(p)) continue;
    if (p.condition || p.checked_condition) issues.add(`${pp}.condition`, 'CEL conditions are not supported');
    const perms = arr(p, 'permissions', pp, issues).map((x, i) => permission(x, `${pp}.permissions[${i}]`, issues));
    const princs = arr(p, 'principals', pp, issues).map((x, i) => principal(x, `${pp}.principals[${i}]`, issues));
    if (perms.length === 0) issues.add(`${pp}.permissions`, 'needs at least one permission');
    if (princs.length === 0) issues.add(`${pp}.principals`, 'needs at least one principal');
    policies.push({ name, matches: (i) => perms.some((m) => m(i)) && princs.some((m) => m(i)) });
  }
  return { action: action === 'DENY' || action === 'LOG' ? action : 'ALLOW', policies };
}

export function evaluateRbac(rules: RbacRules, input: RbacInput): RbacDecision {
  let matched = '';
  for (const p of rules.policies) {
    if (p.matches(input)) {
      matched = p.name;
      break;
    }
  }
  switch (rules.action) {
    case 'ALLOW':
      return { allowed: matched !== '', policy: matched };
    case 'DENY':
      return { allowed: matched === '', policy: matched };
    case 'LOG':
      return { allowed: true, policy: matched };
  }
}

/** The RBAC filter config (HTTP or network): enforced rules and optional shadow rules (recorded only). */
export interface RbacConfig {
  rules: RbacRules | undefined;
  shadow: RbacRules | undefined;
}

export function compileRbacFilter(cfg: Obj, path: string, issues: Issues): RbacConfig {
  const rules = obj(cfg, 'rules', path, issues);
  const shadow = obj(cfg, 'shadow_rules', path, issues);
  if (cfg.matcher || cfg.shadow_matcher) issues.add(`${path}.matcher`, 'the matcher API is not supported; use rules');
  return {
    rules: rules ? compileRbacRules(rules, `${path}.rules`, issues) : undefined,
    shadow: shadow ? compileRbacRules(shadow, `${path}.shadow_rules`, issues) : undefined,
  };
}
