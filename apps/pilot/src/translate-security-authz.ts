/**
 * AuthorizationPolicy (security.istio.io/v1beta1) -> Envoy RBAC, as Istio emits it: one RBAC filter per
 * action (AUDIT -> LOG, then DENY, then ALLOW), one RBAC policy per rule named
 * `ns[<ns>]-policy[<name>]-rule[<i>]`. A rule's `from` entries become its principals (OR), its `to`
 * entries its permissions (OR); the fields inside one entry and the `when` conditions are ANDed.
 * Istio's semantics: no ALLOW policy selects the workload -> no ALLOW filter (allow); ALLOW policies
 * without any rule -> an ALLOW filter with no policy (deny all).
 *
 * A field this translation cannot enforce (requestPrincipals, request.auth.* conditions; HTTP-only fields
 * on a TCP chain) makes the rule fail safe, as Istio does: an ALLOW rule is dropped (it matches nothing),
 * a DENY/AUDIT rule keeps its other fields (it matches more).
 */
import type { RbacPermission, RbacPrincipal, RbacRules, StringMatcher } from '@mesh/xds';
import type { ConfigObject } from '@mesh/config';
import { labelsMatch } from './registry';

interface Source {
  principals?: string[]; notPrincipals?: string[]; requestPrincipals?: string[]; notRequestPrincipals?: string[];
  namespaces?: string[]; notNamespaces?: string[]; ipBlocks?: string[]; notIpBlocks?: string[];
  remoteIpBlocks?: string[]; notRemoteIpBlocks?: string[];
}
interface Operation {
  hosts?: string[]; notHosts?: string[]; ports?: string[]; notPorts?: string[];
  methods?: string[]; notMethods?: string[]; paths?: string[]; notPaths?: string[];
}
interface Condition {
  key: string;
  values?: string[];
  notValues?: string[];
}
export interface AuthorizationPolicySpec {
  selector?: { matchLabels?: Record<string, string> };
  action?: 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';
  rules?: { from?: { source?: Source }[]; to?: { operation?: Operation }[]; when?: Condition[] }[];
}

interface CidrRange {
  address_prefix: string;
  prefix_len: { value: number };
}
/** RBAC Permission/Principal fields beyond what @mesh/xds types (destination_ip, remote_ip, requested_server_name). */
type Permission = RbacPermission & { destination_ip?: CidrRange; requested_server_name?: StringMatcher };
type Principal = RbacPrincipal & { remote_ip?: CidrRange };

/** Output of one action: the RBAC rules, or undefined when no policy of that action applies. */
export interface WorkloadRbac {
  audit?: RbacRules;
  deny?: RbacRules;
  allow?: RbacRules;
}

const hasSelector = (s: AuthorizationPolicySpec): boolean => Object.keys(s.selector?.matchLabels ?? {}).length > 0;

/** Policies selecting a workload: root namespace (all workloads, or by selector), its namespace (all, or by selector). */
export function selectAuthzPolicies(
  policies: readonly ConfigObject[],
  rootNamespace: string,
  workload: { namespace: string; labels: Record<string, string> },
): ConfigObject[] {
  return policies
    .filter((c) => {
      const spec = c.spec as AuthorizationPolicySpec;
      if (c.meta.namespace !== rootNamespace && c.meta.namespace !== workload.namespace) return false;
      return !hasSelector(spec) || labelsMatch(spec.selector?.matchLabels, workload.labels);
    })
    .sort((a, b) => `${a.meta.namespace}/${a.meta.name}`.localeCompare(`${b.meta.namespace}/${b.meta.name}`));
}

/** Istio's string match: `*` any non-empty, `x*` prefix, `*x` suffix, else exact. */
function match(value: string, prefix = ''): StringMatcher {
  if (value === '*') return { safe_regex: { regex: '.+' } };
  if (value.endsWith('*')) return { prefix: prefix + value.slice(0, -1) };
  if (value.startsWith('*')) return { suffix: value.slice(1) };
  return { exact: prefix + value };
}

const escapeRegex = (s: string): string => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');

function cidr(text: string): CidrRange {
  const [addr = '', len] = text.split('/');
  const max = addr.includes(':') ? 128 : 32;
  return { address_prefix: addr, prefix_len: { value: len === undefined ? max : Number(len) } };
}

const principalOf = (p: string): Principal => ({ authenticated: { principal_name: match(p, 'spiffe://') } });
const namespaceOf = (ns: string): Principal => ({
  authenticated: { principal_name: { safe_regex: { regex: `.*/ns/${escapeRegex(ns).replace(/\*/g, '.*')}/.*` } } },
});

function orIds(ids: Principal[]): Principal {
  return ids.length === 1 && ids[0] ? ids[0] : { or_ids: { ids } };
}
function andIds(ids: Principal[]): Principal {
  if (ids.length === 0) return { any: true };
  return ids.length === 1 && ids[0] ? ids[0] : { and_ids: { ids } };
}
function orRules(rules: Permission[]): Permission {
  return rules.length === 1 && rules[0] ? rules[0] : { or_rules: { rules } };
}
function andRules(rules: Permission[]): Permission {
  if (rules.length === 0) return { any: true };
  return rules.length === 1 && rules[0] ? rules[0] : { and_rules: { rules } };
}

/** Adds `values` (OR) and `notValues` (NOT OR) matchers of one field to `out`. */
function field<T>(out: T[], values: string[] | undefined, notValues: string[] | undefined, one: (v: string) => T, or: (xs: T[]) => T, not: (x: T) => T): void {
  if (values?.length) out.push(or(values.map(one)));
  if (notValues?.length) out.push(not(or(notValues.map(one))));
}

const notId = (p: Principal): Principal => ({ not_id: p });
const notRule = (p: Permission): Permission => ({ not_rule: p });
const header = (name: string, m: StringMatcher): Permission => ({ header: { name, string_match: m } });
const hostMatch = (h: string): Permission => header(':authority', { ...match(h), ignore_case: true });

/** Translation of one rule; `unsupported` is set when a field could not be enforced on this chain. */
interface RuleResult {
  permissions: Permission[];
  principals: Principal[];
  unsupported: string[];
}

function translateRule(rule: NonNullable<AuthorizationPolicySpec['rules']>[number], http: boolean): RuleResult {
  const unsupported: string[] = [];
  const whenPerm: Permission[] = [];
  const whenPrin: Principal[] = [];
  for (const c of rule.when ?? []) {
    const headerKey = /^request\.headers\[(.+)\]$/.exec(c.key);
    if (headerKey?.[1]) {
      if (!http) unsupported.push(c.key);
      else field(whenPerm, c.values, c.notValues, (v) => header(headerKey[1]?.toLowerCase() ?? '', match(v)), orRules, notRule);
    } else if (c.key === 'source.ip') field(whenPrin, c.values, c.notValues, (v) => ({ direct_remote_ip: cidr(v) }), orIds, notId);
    else if (c.key === 'remote.ip') field(whenPrin, c.values, c.notValues, (v) => ({ remote_ip: cidr(v) }), orIds, notId);
    else if (c.key === 'source.namespace') field(whenPrin, c.values, c.notValues, namespaceOf, orIds, notId);
    else if (c.key === 'source.principal') field(whenPrin, c.values, c.notValues, principalOf, orIds, notId);
    else if (c.key === 'destination.ip') field(whenPerm, c.values, c.notValues, (v) => ({ destination_ip: cidr(v) }), orRules, notRule);
    else if (c.key === 'destination.port') field(whenPerm, c.values, c.notValues, (v) => ({ destination_port: Number(v) }), orRules, notRule);
    else if (c.key === 'connection.sni') field(whenPerm, c.values, c.notValues, (v) => ({ requested_server_name: match(v) }), orRules, notRule);
    else unsupported.push(c.key);
  }
  const principals = (rule.from?.length ? rule.from : [{}]).map(({ source: s = {} }) => {
    const ids: Principal[] = [];
    field(ids, s.principals, s.notPrincipals, principalOf, orIds, notId);
    field(ids, s.namespaces, s.notNamespaces, namespaceOf, orIds, notId);
    field(ids, s.ipBlocks, s.notIpBlocks, (v) => ({ direct_remote_ip: cidr(v) }), orIds, notId);
    field(ids, s.remoteIpBlocks, s.notRemoteIpBlocks, (v) => ({ remote_ip: cidr(v) }), orIds, notId);
    if (s.requestPrincipals?.length || s.notRequestPrincipals?.length) unsupported.push('requestPrincipals');
    return andIds([...ids, ...whenPrin]);
  });
  const permissions = (rule.to?.length ? rule.to : [{}]).map(({ operation: o = {} }) => {
    const rules: Permission[] = [];
    field(rules, o.ports, o.notPorts, (v) => ({ destination_port: Number(v) }), orRules, notRule);
    if (http) {
      field(rules, o.hosts, o.notHosts, hostMatch, orRules, notRule);
      field(rules, o.methods, o.notMethods, (v) => header(':method', { exact: v }), orRules, notRule);
      field(rules, o.paths, o.notPaths, (v) => ({ url_path: { path: match(v) } }), orRules, notRule);
    } else {
      for (const [k, v] of Object.entries(o)) if (k !== 'ports' && k !== 'notPorts' && (v as string[] | undefined)?.length) unsupported.push(k);
    }
    return andRules([...rules, ...whenPerm]);
  });
  return { permissions, principals, unsupported };
}

/**
 * The RBAC rules for a workload's inbound chain (HTTP or TCP) from the policies that select it. `warn`
 * receives each rule that had to fail safe.
 */
export function buildWorkloadRbac(selected: readonly ConfigObject[], http: boolean, warn: (msg: string, policy: string) => void = () => undefined): WorkloadRbac {
  const out: WorkloadRbac = {};
  for (const c of selected) {
    const spec = c.spec as AuthorizationPolicySpec;
    const action = spec.action ?? 'ALLOW';
    if (action === 'CUSTOM') {
      warn('CUSTOM authorization is not supported; policy ignored', `${c.meta.namespace}/${c.meta.name}`);
      continue;
    }
    const key = action === 'AUDIT' ? 'audit' : action === 'DENY' ? 'deny' : 'allow';
    const rules = (out[key] ??= { action: action === 'AUDIT' ? 'LOG' : action, policies: {} });
    (spec.rules ?? []).forEach((rule, i) => {
      const r = translateRule(rule, http);
      const name = `ns[${c.meta.namespace}]-policy[${c.meta.name}]-rule[${i}]`;
      if (r.unsupported.length > 0) {
        warn(`rule[${i}] uses ${r.unsupported.join(', ')}, not enforceable on this ${http ? 'HTTP' : 'TCP'} chain: ${action === 'ALLOW' ? 'rule dropped' : 'those fields ignored'}`, `${c.meta.namespace}/${c.meta.name}`);
        if (action === 'ALLOW') return;
      }
      rules.policies[name] = { permissions: r.permissions, principals: r.principals };
    });
  }
  return out;
}

/** The filter order Istio uses: AUDIT (LOG), DENY, ALLOW. */
export function rbacInOrder(rbac: WorkloadRbac): RbacRules[] {
  // AUDIT/DENY without a policy match nothing: no filter. ALLOW without a policy denies everything: kept.
  const some = (r: RbacRules | undefined): r is RbacRules => r !== undefined && Object.keys(r.policies).length > 0;
  return [rbac.audit, rbac.deny].filter(some).concat(rbac.allow ? [rbac.allow] : []);
}
