/**
 * Checks JSON Schema cannot express (Istio's validation webhook rules that matter for translation):
 * weights summing to 100, one action per http route, compilable regexes, unique subset and port names,
 * resolution/endpoint combinations. Each returns every error with its field path.
 */
import type { FieldError } from './config-types';
import type {
  DestinationRuleSpec, GatewaySpec, HttpRoute, ServiceEntrySpec, SidecarSpec, StringMatch, VirtualServiceSpec, WorkloadEntrySpec,
} from './config-spec';

import { authorizationPolicySemantics, peerAuthenticationSemantics } from './schema-security';

export type SemanticCheck = (spec: Record<string, unknown>) => FieldError[];

function checkRegex(m: StringMatch | undefined, path: string, out: FieldError[]): void {
  if (m?.regex === undefined) return;
  try {
    new RegExp(m.regex);
  } catch (err) {
    out.push({ path: `${path}.regex`, message: `invalid regular expression: ${(err as Error).message}` });
  }
}

function checkWeights(route: { weight?: number }[] | undefined, path: string, out: FieldError[]): void {
  if (!route || route.length === 0) return;
  if (route.length === 1 && route[0]?.weight === undefined) return;
  const sum = route.reduce((s, r) => s + (r.weight ?? 0), 0);
  if (sum !== 100 && !(route.length === 1 && sum === 0)) out.push({ path, message: `weights add up to ${sum}, they must add up to 100` });
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Istio's exportTo rules: `.` (this namespace), `*` (every namespace), `~` (none) or namespace names;
 * `*` and `~` stand alone; no duplicates.
 */
export function checkExportTo(list: readonly string[] | undefined, path: string, out: FieldError[]): void {
  if (!list) return;
  const seen = new Set<string>();
  list.forEach((v, i) => {
    if (v !== '.' && v !== '*' && v !== '~' && !DNS_LABEL.test(v)) out.push({ path: `${path}[${i}]`, message: `"${v}" must be ".", "*", "~" or a namespace name` });
    if (seen.has(v)) out.push({ path: `${path}[${i}]`, message: `duplicate entry "${v}"` });
    seen.add(v);
  });
  if (list.length > 1 && (seen.has('*') || seen.has('~'))) out.push({ path, message: '"*" and "~" cannot be combined with other entries' });
}

function checkHttpRoute(r: HttpRoute, path: string, out: FieldError[], inDelegate: boolean): void {
  const actions = [r.route?.length ? 'route' : '', r.redirect ? 'redirect' : '', r.directResponse ? 'directResponse' : '', r.delegate ? 'delegate' : ''].filter(Boolean);
  if (r.delegate && inDelegate) out.push({ path: `${path}.delegate`, message: 'a delegate VirtualService (no hosts) cannot delegate again' });
  if (actions.length === 0) out.push({ path, message: 'needs exactly one of route, redirect, directResponse or delegate' });
  if (actions.length > 1) out.push({ path, message: `has ${actions.join(' and ')}; only one is allowed` });
  if (r.redirect && r.rewrite) out.push({ path: `${path}.rewrite`, message: 'rewrite cannot be used with redirect' });
  if (r.rewrite?.uri !== undefined && r.rewrite.uriRegexRewrite) out.push({ path: `${path}.rewrite`, message: 'uri and uriRegexRewrite are exclusive' });
  if (r.mirror && r.mirrors?.length) out.push({ path: `${path}.mirrors`, message: 'mirror and mirrors are exclusive' });
  if (r.fault?.abort && r.fault.abort.httpStatus === undefined && r.fault.abort.grpcStatus === undefined) {
    out.push({ path: `${path}.fault.abort`, message: 'needs httpStatus or grpcStatus' });
  }
  checkWeights(r.route, `${path}.route`, out);
  (r.match ?? []).forEach((m, i) => {
    const mp = `${path}.match[${i}]`;
    for (const f of ['uri', 'scheme', 'method', 'authority'] as const) checkRegex(m[f], `${mp}.${f}`, out);
    for (const f of ['headers', 'queryParams', 'withoutHeaders'] as const) {
      for (const [k, v] of Object.entries(m[f] ?? {})) checkRegex(v, `${mp}.${f}.${k}`, out);
    }
  });
  if (r.rewrite?.uriRegexRewrite) checkRegex({ regex: r.rewrite.uriRegexRewrite.match }, `${path}.rewrite.uriRegexRewrite.match`, out);
}

function virtualService(raw: Record<string, unknown>): FieldError[] {
  const spec = raw as VirtualServiceSpec;
  const out: FieldError[] = [];
  // Without hosts it can only be a delegate (Istio 1.8+): http routes only, bound to no gateway.
  const delegate = (spec.hosts ?? []).length === 0;
  if (delegate) {
    if (spec.gateways?.length) out.push({ path: 'spec.gateways', message: 'a VirtualService without hosts is a delegate and cannot name gateways (the root VirtualService does)' });
    if (spec.tcp?.length || spec.tls?.length) out.push({ path: spec.tcp?.length ? 'spec.tcp' : 'spec.tls', message: 'a VirtualService without hosts is a delegate and may only have http routes' });
    if (!spec.http?.length) out.push({ path: 'spec.hosts', message: 'is required (only a delegate VirtualService, with http routes, has no hosts)' });
  }
  checkExportTo(spec.exportTo, 'spec.exportTo', out);
  (spec.http ?? []).forEach((r, i) => checkHttpRoute(r, `spec.http[${i}]`, out, delegate));
  (spec.tcp ?? []).forEach((r, i) => {
    if (!r.route?.length) out.push({ path: `spec.tcp[${i}].route`, message: 'needs at least one destination' });
    checkWeights(r.route, `spec.tcp[${i}].route`, out);
  });
  return out;
}

function destinationRule(raw: Record<string, unknown>): FieldError[] {
  const spec = raw as unknown as DestinationRuleSpec;
  const out: FieldError[] = [];
  checkExportTo(spec.exportTo, 'spec.exportTo', out);
  const seen = new Set<string>();
  const policies: [string, DestinationRuleSpec['trafficPolicy']][] = [['spec.trafficPolicy', spec.trafficPolicy]];
  (spec.subsets ?? []).forEach((s, i) => {
    if (seen.has(s.name)) out.push({ path: `spec.subsets[${i}].name`, message: `duplicate subset name "${s.name}"` });
    seen.add(s.name);
    policies.push([`spec.subsets[${i}].trafficPolicy`, s.trafficPolicy]);
  });
  for (const [path, p] of policies) {
    const lb = p?.loadBalancer;
    if (lb?.simple && lb.consistentHash) out.push({ path: `${path}.loadBalancer`, message: 'simple and consistentHash are exclusive' });
    const ch = lb?.consistentHash;
    if (ch) {
      const keys = [ch.httpHeaderName, ch.httpCookie, ch.useSourceIp, ch.httpQueryParameterName].filter((v) => v !== undefined && v !== false);
      if (keys.length !== 1) out.push({ path: `${path}.loadBalancer.consistentHash`, message: 'needs exactly one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName' });
    }
  }
  return out;
}

function workloadAddress(w: WorkloadEntrySpec, path: string, out: FieldError[], required: boolean): void {
  if (w.address === undefined || w.address === '') {
    if (required) out.push({ path: `${path}.address`, message: 'is required' });
  }
}

function serviceEntry(raw: Record<string, unknown>): FieldError[] {
  const spec = raw as unknown as ServiceEntrySpec;
  const out: FieldError[] = [];
  checkExportTo(spec.exportTo, 'spec.exportTo', out);
  const numbers = new Set<number>();
  const names = new Set<string>();
  (spec.ports ?? []).forEach((p, i) => {
    if (numbers.has(p.number)) out.push({ path: `spec.ports[${i}].number`, message: `duplicate port ${p.number}` });
    if (names.has(p.name)) out.push({ path: `spec.ports[${i}].name`, message: `duplicate port name "${p.name}"` });
    numbers.add(p.number);
    names.add(p.name);
  });
  const resolution = spec.resolution ?? 'NONE';
  if (spec.endpoints?.length && spec.workloadSelector) out.push({ path: 'spec.workloadSelector', message: 'cannot be used together with endpoints' });
  if ((resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') && spec.hosts.some((h) => h.startsWith('*'))) {
    out.push({ path: 'spec.hosts', message: 'wildcard hosts cannot use DNS resolution' });
  }
  (spec.endpoints ?? []).forEach((e, i) => {
    workloadAddress(e, `spec.endpoints[${i}]`, out, true);
    for (const name of Object.keys(e.ports ?? {})) {
      if (!names.has(name)) out.push({ path: `spec.endpoints[${i}].ports.${name}`, message: `no service port named "${name}"` });
    }
  });
  return out;
}

function workloadEntry(raw: Record<string, unknown>): FieldError[] {
  const out: FieldError[] = [];
  workloadAddress(raw as WorkloadEntrySpec, 'spec', out, true);
  return out;
}

function sidecar(raw: Record<string, unknown>): FieldError[] {
  const spec = raw as SidecarSpec;
  const out: FieldError[] = [];
  let catchAll = 0;
  (spec.egress ?? []).forEach((e, i) => {
    if (!e.port) catchAll++;
    if (e.bind && !e.port) out.push({ path: `spec.egress[${i}].bind`, message: 'needs a port' });
    e.hosts.forEach((h, j) => {
      if (!h.includes('/')) out.push({ path: `spec.egress[${i}].hosts[${j}]`, message: `"${h}" must be namespace/dnsName (use */ or ./ for any or this namespace)` });
    });
  });
  if (catchAll > 1) out.push({ path: 'spec.egress', message: 'at most one egress listener may omit the port' });
  (spec.ingress ?? []).forEach((e, i) => {
    if (e.defaultEndpoint !== undefined && !/^(127\.0\.0\.1|0\.0\.0\.0|\[::1\]|\[::\]|unix:\/\/.+):?\d*$/.test(e.defaultEndpoint)) {
      out.push({ path: `spec.ingress[${i}].defaultEndpoint`, message: 'must be 127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port> or unix://' });
    }
  });
  return out;
}

const TLS_PROTOCOLS = new Set(['HTTPS', 'TLS']);

/** Istio's Gateway server rules: which protocols need tls, and what each tls mode needs. */
function gateway(raw: Record<string, unknown>): FieldError[] {
  const spec = raw as GatewaySpec;
  const out: FieldError[] = [];
  (spec.servers ?? []).forEach((s, i) => {
    const path = `spec.servers[${i}]`;
    const protocol = (s.port.protocol ?? '').toUpperCase();
    const tls = s.tls;
    const mode = tls?.mode;
    if (TLS_PROTOCOLS.has(protocol) && !mode) out.push({ path: `${path}.tls.mode`, message: `is required for a ${protocol} server` });
    if (mode && !TLS_PROTOCOLS.has(protocol)) out.push({ path: `${path}.port.protocol`, message: `must be HTTPS or TLS for tls mode ${mode}, not "${s.port.protocol ?? ''}"` });
    if ((mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH') && protocol !== 'TLS') out.push({ path: `${path}.port.protocol`, message: `must be TLS for tls mode ${mode}` });
    if (mode === 'SIMPLE' || mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL') {
      if (tls?.credentialName === undefined && (tls?.serverCertificate === undefined || tls.privateKey === undefined)) {
        out.push({ path: `${path}.tls.credentialName`, message: `is required for tls mode ${mode} (a kubernetes.io/tls Secret in the gateway's namespace), unless serverCertificate and privateKey are set` });
      }
      if (mode !== 'SIMPLE' && tls?.credentialName === undefined && tls?.caCertificates === undefined) {
        out.push({ path: `${path}.tls.caCertificates`, message: `is required for tls mode ${mode} without credentialName` });
      }
    }
    if (tls?.credentialName !== undefined && !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(tls.credentialName)) {
      out.push({ path: `${path}.tls.credentialName`, message: `"${tls.credentialName}" must be the name of a Secret (DNS-1123)` });
    }
    if (tls?.httpsRedirect && mode) out.push({ path: `${path}.tls.httpsRedirect`, message: 'applies to plain HTTP servers only (it redirects them to HTTPS)' });
  });
  return out;
}

export const semanticChecks: Record<string, SemanticCheck> = {
  Gateway: gateway,
  VirtualService: virtualService,
  DestinationRule: destinationRule,
  ServiceEntry: serviceEntry,
  WorkloadEntry: workloadEntry,
  Sidecar: sidecar,
  AuthorizationPolicy: authorizationPolicySemantics,
  PeerAuthentication: peerAuthenticationSemantics,
};
