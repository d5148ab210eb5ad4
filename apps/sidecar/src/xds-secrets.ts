/**
 * SDS over ADS (what a gateway needs for Gateway `credentialName`): Secret resources
 * (envoy.extensions.transport_sockets.tls.v3.Secret) that listeners reference through an SdsSecretConfig
 * whose `sds_config` is `ads`, e.g. `kubernetes://<name>` from Pilot. Istio's workload names (`default`,
 * `ROOTCA`, fetched from the node agent over an SDS cluster) stay with the local agent (tls-secrets.ts).
 *
 * Listeners that reference a secret not received yet are held back (warming, as Envoy does) until every
 * such secret has arrived, or until the warming time is over (then their chains refuse TLS).
 */
import type { ValidationError } from '@mesh/xds';
import { arr, dataSourceText, isObj, Issues, obj, str, type Obj } from './config-fields';

/** PEM material of one secret: a certificate with its key, or trusted CAs. */
export interface SecretMaterial {
  cert?: string;
  key?: string;
  ca?: string;
}

/** Secrets received over ADS, by name; listeners of changes are told which names changed. */
export class AdsSecrets {
  private secrets = new Map<string, SecretMaterial>();
  private readonly watchers = new Set<(changed: readonly string[]) => void>();

  get(name: string): SecretMaterial | undefined {
    return this.secrets.get(name);
  }

  has(name: string): boolean {
    return this.secrets.has(name);
  }

  names(): string[] {
    return [...this.secrets.keys()].sort();
  }

  onChange(fn: (changed: readonly string[]) => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  /**
   * The full current set of subscribed secrets (decoded Secret messages). Every resource is validated
   * first: one bad secret refuses the whole update (NACK) and the previous secrets stay in force.
   */
  update(resources: readonly Obj[]): ValidationError[] | undefined {
    const errors: ValidationError[] = [];
    const next = new Map<string, SecretMaterial>();
    for (const [i, raw] of resources.entries()) {
      const name = str(raw, 'name');
      const label = name || `resources[${i}]`;
      const issues = new Issues();
      const material = readSecret(raw, issues);
      for (const e of issues.list) errors.push({ resource: label, path: e.path, message: e.message });
      if (issues.list.length === 0) next.set(name, material);
    }
    if (errors.length > 0) return errors;
    const changed: string[] = [];
    for (const [name, m] of next) {
      const old = this.secrets.get(name);
      if (!old || old.cert !== m.cert || old.key !== m.key || old.ca !== m.ca) changed.push(name);
    }
    for (const name of this.secrets.keys()) if (!next.has(name)) changed.push(name);
    this.secrets = next;
    if (changed.length > 0) for (const w of this.watchers) w(changed);
    return undefined;
  }
}

function readSecret(raw: Obj, issues: Issues): SecretMaterial {
  if (!str(raw, 'name')) issues.add('name', 'is required');
  const out: SecretMaterial = {};
  const tc = obj(raw, 'tls_certificate', 'secret', issues);
  const vc = obj(raw, 'validation_context', 'secret', issues);
  if (tc) {
    const cert = dataSourceText(tc.certificate_chain, 'tls_certificate.certificate_chain', issues, true);
    const key = dataSourceText(tc.private_key, 'tls_certificate.private_key', issues, true);
    if (cert !== undefined) out.cert = cert;
    if (key !== undefined) out.key = key;
  }
  if (vc) {
    const ca = dataSourceText(vc.trusted_ca, 'validation_context.trusted_ca', issues, true);
    if (ca !== undefined) out.ca = ca;
  }
  if (!tc && !vc) issues.add('secret', 'needs tls_certificate or validation_context (other secret kinds are not supported)');
  return out;
}

function sdsOverAds(config: unknown): string | undefined {
  if (!isObj(config)) return undefined;
  const source = config.sds_config;
  return isObj(source) && isObj(source.ads) ? str(config, 'name') || undefined : undefined;
}

/** Names of the secrets listeners (decoded LDS resources) fetch over ADS, sorted. */
export function adsSecretNames(listeners: readonly Obj[]): string[] {
  const out = new Set<string>();
  const ignore = new Issues();
  for (const l of listeners) {
    const chains = [...arr(l, 'filter_chains', 'listener', ignore), l.default_filter_chain];
    for (const chain of chains) {
      if (!isObj(chain) || !isObj(chain.transport_socket)) continue;
      const cfg = chain.transport_socket.typed_config;
      if (!isObj(cfg) || !isObj(cfg.common_tls_context)) continue;
      const common = cfg.common_tls_context;
      for (const c of arr(common, 'tls_certificate_sds_secret_configs', 'common', ignore)) {
        const n = sdsOverAds(c);
        if (n) out.add(n);
      }
      const combined = isObj(common.combined_validation_context) ? common.combined_validation_context.validation_context_sds_secret_config : undefined;
      for (const c of [common.validation_context_sds_secret_config, combined]) {
        const n = sdsOverAds(c);
        if (n) out.add(n);
      }
    }
  }
  return [...out].sort();
}
