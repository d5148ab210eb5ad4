/**
 * Gateway TLS as istiod does it: a server's `credentialName` names a Kubernetes Secret in the gateway
 * proxy's namespace, served over ADS as SDS secret `kubernetes://<name>` (certificate and key) and, for
 * MUTUAL, `kubernetes://<name>-cacert` (trusted CA: secret `<name>-cacert`, else `ca.crt` of `<name>`).
 * Keys read: tls.crt/tls.key/ca.crt (kubernetes.io/tls) or cert/key/cacert (generic). The filter chain
 * of a server matches its hosts by SNI and holds a DownstreamTlsContext whose SDS config source is ADS.
 */
import {
  adsConfigSource, downstreamTlsTransportSocket, tlsCertificateSecret, validationContextSecret,
  type CommonTlsContext, type SdsSecretConfig, type Secret, type TransportSocket,
} from '@mesh/xds';
import type { SecretSpec, ServerTlsSettings } from '@mesh/config';
import type { GatewayServer } from './proxy-scope';
import type { PushContext } from './push-context';

export const SDS_PREFIX = 'kubernetes://';
export const CACERT_SUFFIX = '-cacert';

/** SIMPLE / MUTUAL / OPTIONAL_MUTUAL: TLS terminated at the gateway. */
export function terminatesTls(tls: ServerTlsSettings | undefined): boolean {
  return tls?.mode === 'SIMPLE' || tls?.mode === 'MUTUAL' || tls?.mode === 'OPTIONAL_MUTUAL';
}

function mutual(tls: ServerTlsSettings | undefined): boolean {
  return tls?.mode === 'MUTUAL' || tls?.mode === 'OPTIONAL_MUTUAL';
}

function decoded(spec: SecretSpec, keys: readonly string[]): string | undefined {
  for (const k of keys) {
    const v = spec.data[k];
    if (v !== undefined) return Buffer.from(v, 'base64').toString('utf8');
  }
  return undefined;
}

function secretSpec(push: PushContext, namespace: string, name: string): SecretSpec | undefined {
  return push.secrets.get(`${namespace}/${name}`)?.spec as SecretSpec | undefined;
}

/** Certificate chain and key of `credentialName`, or why it cannot be used. */
export function certificateOf(push: PushContext, namespace: string, name: string): { cert: string; key: string } | { missing: string } {
  const spec = secretSpec(push, namespace, name);
  if (!spec) return { missing: `Secret ${namespace}/${name} does not exist` };
  const cert = decoded(spec, ['tls.crt', 'cert']);
  const key = decoded(spec, ['tls.key', 'key']);
  if (cert === undefined || key === undefined) return { missing: `Secret ${namespace}/${name} has no tls.crt and tls.key (or cert and key)` };
  return { cert, key };
}

/** Trusted CA for MUTUAL: Secret `<name>-cacert` (ca.crt or cacert), else `ca.crt`/`cacert` of `<name>`. */
export function caOf(push: PushContext, namespace: string, name: string): { ca: string } | { missing: string } {
  for (const candidate of [`${name}${CACERT_SUFFIX}`, name]) {
    const spec = secretSpec(push, namespace, candidate);
    const ca = spec ? decoded(spec, ['ca.crt', 'cacert']) : undefined;
    if (ca !== undefined) return { ca };
  }
  return { missing: `no CA certificate for MUTUAL: neither Secret ${namespace}/${name}${CACERT_SUFFIX} nor ${namespace}/${name} has ca.crt` };
}

/** The SDS secrets one terminating server needs, or why the server must be left out. */
export function serverSecrets(push: PushContext, namespace: string, server: GatewayServer): { secrets: Secret[] } | { missing: string } {
  const tls = server.tlsSettings;
  const name = tls?.credentialName;
  if (!terminatesTls(tls) || name === undefined) return { secrets: [] };
  const cert = certificateOf(push, namespace, name);
  if ('missing' in cert) return cert;
  const out: Secret[] = [tlsCertificateSecret(`${SDS_PREFIX}${name}`, cert.cert, cert.key)];
  if (mutual(tls)) {
    const ca = caOf(push, namespace, name);
    if ('missing' in ca) return ca;
    out.push(validationContextSecret(`${SDS_PREFIX}${name}${CACERT_SUFFIX}`, ca.ca));
  }
  return { secrets: out };
}

function adsSds(name: string): SdsSecretConfig {
  return { name, sds_config: adsConfigSource() };
}

/** The DownstreamTlsContext of a terminating server: SDS over ADS for credentialName, files otherwise. */
export function serverTransportSocket(server: GatewayServer): TransportSocket {
  const tls = server.tlsSettings ?? {};
  const common: CommonTlsContext = { alpn_protocols: ['h2', 'http/1.1'] };
  if (tls.credentialName !== undefined) {
    common.tls_certificate_sds_secret_configs = [adsSds(`${SDS_PREFIX}${tls.credentialName}`)];
    if (mutual(tls)) common.validation_context_sds_secret_config = adsSds(`${SDS_PREFIX}${tls.credentialName}${CACERT_SUFFIX}`);
  } else {
    common.tls_certificates = [{ certificate_chain: { filename: tls.serverCertificate ?? '' }, private_key: { filename: tls.privateKey ?? '' } }];
    if (mutual(tls) && tls.caCertificates) common.validation_context = { trusted_ca: { filename: tls.caCertificates } };
  }
  return downstreamTlsTransportSocket({
    common_tls_context: common,
    ...(tls.mode === 'MUTUAL' ? { require_client_certificate: { value: true } } : {}),
  });
}

/** An SDS Secret as debug output may show it: the private key replaced. */
export function redactSecretResource(resource: object): object {
  const s = resource as Secret;
  if (!s.tls_certificate) return resource;
  return { ...s, tls_certificate: { ...s.tls_certificate, private_key: { inline_string: '[redacted]' } } };
}

/** SNI names of a server: its hosts without the `namespace/` part; none (any SNI) when one is `*`. */
export function serverNames(hosts: readonly string[]): string[] {
  const names = hosts.map((h) => (h.includes('/') ? h.slice(h.indexOf('/') + 1) : h));
  return names.includes('*') ? [] : [...new Set(names)].sort();
}
