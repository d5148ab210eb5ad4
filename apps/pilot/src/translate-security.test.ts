import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { Cluster, FilterChain, Listener } from '@mesh/xds';
import { validateYaml, type ConfigObject } from '@mesh/config';
import type { Proxy } from './proxy';
import { computeScope, scopeKey } from './proxy-scope';
import { PushContext } from './push-context';
import { ConfigServiceRegistry } from './registry-config';
import { typesFor } from './generators';
import { TYPE_URL } from '@mesh/xds';
import { buildClusters } from './translate-cluster';
import { buildListeners } from './translate-listener';
import { effectiveMtlsMode } from './translate-security-peer-authn';

function pushFrom(yaml: string): PushContext {
  const configs: ConfigObject[] = validateYaml(yaml, 't.yaml').map((r) => {
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return r.config;
  });
  const of = (k: string): ConfigObject[] => configs.filter((c) => c.kind === k);
  return new PushContext(
    '1',
    new ConfigServiceRegistry(of('ServiceEntry'), of('WorkloadEntry')),
    {
      virtualServices: of('VirtualService'), destinationRules: of('DestinationRule'), sidecars: of('Sidecar'),
      peerAuthentications: of('PeerAuthentication'), authorizationPolicies: of('AuthorizationPolicy'),
    },
    { rootNamespace: 'istio-system', domainSuffix: 'cluster.local' },
  );
}

function proxy(over: Partial<Proxy> = {}): Proxy {
  return { id: 'sidecar~1.1.1.1~p.app~app.svc.cluster.local', type: 'sidecar', ip: '1.1.1.1', podName: 'p', namespace: 'app', dnsDomain: '', labels: { app: 'web' }, generator: 'envoy', interception: 'NONE', ...over };
}

/** A workload `web` in namespace app with an HTTP ingress on 8000 and a TCP ingress on 9000. */
const SIDECAR = `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: web, namespace: app}
spec:
  ingress:
  - {port: {number: 8000, protocol: HTTP, name: http}, defaultEndpoint: "127.0.0.1:8080"}
  - {port: {number: 9000, protocol: TCP, name: tcp}, defaultEndpoint: "127.0.0.1:9090"}
`;

const pa = (ns: string, name: string, body: string): string =>
  `---\napiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\nmetadata: {name: ${name}, namespace: ${ns}}\nspec: ${body}\n`;
const ap = (ns: string, name: string, body: string): string =>
  `---\napiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\nmetadata: {name: ${name}, namespace: ${ns}}\nspec: ${body}\n`;

function inbound(push: PushContext, port: number, p: Proxy = proxy()): Listener {
  const l = buildListeners(push, computeScope(push, p)).find((x) => x.name === `0.0.0.0_${port}`);
  assert.ok(l, `listener 0.0.0.0_${port}`);
  return l;
}
const transports = (l: Listener): (string | undefined)[] => (l.filter_chains ?? []).map((c) => c.filter_chain_match?.transport_protocol ?? 'any');
const hcm = (c: FilterChain | undefined): { http_filters: { name: string; typed_config: { rules: { action: string; policies: Record<string, unknown> } } }[] } =>
  c?.filters[0]?.typed_config as never;

describe('PeerAuthentication', () => {
  it('defaults to PERMISSIVE: a TLS chain with a client certificate from SDS, a plaintext chain, the TLS inspector', () => {
    const l = inbound(pushFrom(SIDECAR), 8000);
    assert.deepEqual(transports(l), ['tls', 'raw_buffer']);
    assert.deepEqual(l.listener_filters?.map((f) => f.name), ['envoy.filters.listener.tls_inspector']);
    const ts = l.filter_chains?.[0]?.transport_socket?.typed_config as unknown as Record<string, unknown> & { common_tls_context: Record<string, unknown> };
    assert.equal(ts['@type'], 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext');
    assert.deepEqual(ts.require_client_certificate, { value: true });
    const ctx = ts.common_tls_context as { tls_certificate_sds_secret_configs: { name: string; sds_config: unknown }[]; combined_validation_context: { validation_context_sds_secret_config: { name: string } } };
    assert.equal(ctx.tls_certificate_sds_secret_configs[0]?.name, 'default');
    assert.deepEqual(ctx.tls_certificate_sds_secret_configs[0]?.sds_config, {
      api_config_source: { api_type: 'GRPC', transport_api_version: 'V3', grpc_services: [{ envoy_grpc: { cluster_name: 'sds-grpc' } }], set_node_on_first_message_only: true },
      resource_api_version: 'V3',
    });
    assert.equal(ctx.combined_validation_context.validation_context_sds_secret_config.name, 'ROOTCA');
    assert.equal(l.filter_chains?.[1]?.transport_socket, undefined, 'plaintext chain has no TLS');
  });

  it('applies workload > namespace > mesh, UNSET inherits, and port-level overrides', () => {
    const mesh = pa('istio-system', 'default', '{mtls: {mode: STRICT}}');
    assert.deepEqual(transports(inbound(pushFrom(SIDECAR + mesh), 8000)), ['tls'], 'mesh STRICT');
    assert.equal(inbound(pushFrom(SIDECAR + mesh), 8000).listener_filters?.[0]?.name, 'envoy.filters.listener.tls_inspector');
    const ns = pa('app', 'ns', '{mtls: {mode: DISABLE}}');
    const disabled = inbound(pushFrom(SIDECAR + mesh + ns), 8000);
    assert.deepEqual(transports(disabled), ['any'], 'namespace DISABLE beats mesh STRICT');
    assert.equal(disabled.filter_chains?.[0]?.transport_socket, undefined);
    assert.equal(disabled.listener_filters, undefined);
    const unsetNs = pa('app', 'ns', '{mtls: {mode: UNSET}}');
    assert.deepEqual(transports(inbound(pushFrom(SIDECAR + mesh + unsetNs), 8000)), ['tls'], 'UNSET inherits STRICT');
    const wl = pa('app', 'web', '{selector: {matchLabels: {app: web}}, mtls: {mode: PERMISSIVE}, portLevelMtls: {"9000": {mode: STRICT}}}');
    const push = pushFrom(SIDECAR + mesh + ns + wl);
    assert.deepEqual(transports(inbound(push, 8000)), ['tls', 'raw_buffer'], 'workload PERMISSIVE beats namespace DISABLE');
    assert.deepEqual(transports(inbound(push, 9000)), ['tls'], 'port-level STRICT on 9000');
    assert.deepEqual(transports(inbound(push, 8000, proxy({ labels: { app: 'other' } }))), ['any'], 'selector does not match: namespace DISABLE');
    assert.notEqual(scopeKey(push, proxy()), scopeKey(push, proxy({ labels: { app: 'other' } })), 'selector policies split proxy classes by labels');
    const other = { namespace: 'elsewhere', labels: { app: 'web' } };
    assert.equal(effectiveMtlsMode(push.peerAuthentications, 'istio-system', other, 9000), 'STRICT', 'other namespace: mesh policy only');
  });

  it('triggers LDS pushes for both security kinds', () => {
    assert.deepEqual([...typesFor(['PeerAuthentication'])], [TYPE_URL.LISTENER]);
    assert.deepEqual([...typesFor(['AuthorizationPolicy'])], [TYPE_URL.LISTENER]);
  });
});

describe('AuthorizationPolicy', () => {
  it('no policy: no RBAC filter; router stays last', () => {
    const names = hcm(inbound(pushFrom(SIDECAR), 8000).filter_chains?.[0]).http_filters.map((f) => f.name);
    assert.deepEqual(names, ['envoy.filters.http.router']);
  });

  it('emits AUDIT (LOG), DENY, ALLOW filters in that order before the router, one policy per rule', () => {
    const push = pushFrom(
      SIDECAR +
        ap('app', 'deny-admin', '{action: DENY, rules: [{to: [{operation: {paths: ["/admin*"], notMethods: [GET]}}]}]}') +
        ap('app', 'audit', '{action: AUDIT, rules: [{}]}') +
        ap('istio-system', 'allow-ns', '{rules: [{from: [{source: {namespaces: [app], notPrincipals: ["cluster.local/ns/app/sa/bad"]}}], when: [{key: "request.headers[X-Team]", values: [blue]}]}]}'),
    );
    const chain = inbound(push, 8000).filter_chains?.[0];
    const filters = hcm(chain).http_filters;
    assert.deepEqual(filters.map((f) => [f.name, f.typed_config.rules?.action]), [
      ['envoy.filters.http.rbac', 'LOG'], ['envoy.filters.http.rbac', 'DENY'], ['envoy.filters.http.rbac', 'ALLOW'], ['envoy.filters.http.router', undefined],
    ]);
    assert.deepEqual(filters[1]?.typed_config.rules.policies, {
      'ns[app]-policy[deny-admin]-rule[0]': {
        permissions: [{ and_rules: { rules: expectedDenyRules() } }],
        principals: [{ any: true }],
      },
    });
    assert.deepEqual(filters[2]?.typed_config.rules.policies, {
      'ns[istio-system]-policy[allow-ns]-rule[0]': {
        permissions: [{ header: { name: 'x-team', string_match: { exact: 'blue' } } }],
        principals: [
          {
            and_ids: {
              ids: [
                { not_id: { authenticated: { principal_name: { exact: 'spiffe://cluster.local/ns/app/sa/bad' } } } },
                { authenticated: { principal_name: { safe_regex: { regex: '.*/ns/app/.*' } } } },
              ],
            },
          },
        ],
      },
    });
  });

  it('an ALLOW policy without rules denies everything; a policy for other labels does not apply', () => {
    const push = pushFrom(SIDECAR + ap('app', 'nothing', '{selector: {matchLabels: {app: web}}, action: ALLOW}'));
    const allow = hcm(inbound(push, 8000).filter_chains?.[0]).http_filters[0]?.typed_config.rules;
    assert.deepEqual(allow, { action: 'ALLOW', policies: {} });
    const other = hcm(inbound(push, 8000, proxy({ labels: { app: 'x' } })).filter_chains?.[0]).http_filters.map((f) => f.name);
    assert.deepEqual(other, ['envoy.filters.http.router']);
  });

  it('TCP chains get network RBAC; HTTP-only fields drop an ALLOW rule and are ignored in a DENY rule', () => {
    const push = pushFrom(
      SIDECAR +
        ap('app', 'allow', '{rules: [{to: [{operation: {paths: ["/x"]}}]}, {from: [{source: {ipBlocks: ["10.0.0.0/8", "1.2.3.4"]}}], to: [{operation: {ports: ["9000"]}}]}]}') +
        ap('app', 'deny', '{action: DENY, rules: [{from: [{source: {principals: ["*"]}}], to: [{operation: {methods: [POST]}}]}]}'),
    );
    const l = inbound(push, 9000);
    const chains = l.filter_chains ?? [];
    assert.equal(chains.length, 2, 'PERMISSIVE: both chains carry the filters');
    for (const chain of chains) {
      assert.deepEqual(chain.filters.map((f) => f.name), ['envoy.filters.network.rbac', 'envoy.filters.network.rbac', 'envoy.filters.network.tcp_proxy']);
    }
    const [deny, allow] = chains[0]?.filters.map((f) => f.typed_config as unknown as { rules: { action: string; policies: Record<string, { permissions: unknown[]; principals: unknown[] }> }; stat_prefix: string }) ?? [];
    assert.equal(deny?.rules.action, 'DENY');
    assert.deepEqual(deny?.rules.policies['ns[app]-policy[deny]-rule[0]'], {
      permissions: [{ any: true }],
      principals: [{ authenticated: { principal_name: { safe_regex: { regex: '.+' } } } }],
    });
    assert.deepEqual(Object.keys(allow?.rules.policies ?? {}), ['ns[app]-policy[allow]-rule[1]'], 'the path rule is dropped');
    assert.deepEqual(allow?.rules.policies['ns[app]-policy[allow]-rule[1]'], {
      permissions: [{ destination_port: 9000 }],
      principals: [{ or_ids: { ids: [{ direct_remote_ip: { address_prefix: '10.0.0.0', prefix_len: { value: 8 } } }, { direct_remote_ip: { address_prefix: '1.2.3.4', prefix_len: { value: 32 } } }] } }],
    });
  });
});

/** Expected DENY permission for paths ["/admin*"] + notMethods [GET]: ANDed, methods negated. */
function expectedDenyRules(): unknown[] {
  return [{ not_rule: { header: { name: ':method', string_match: { exact: 'GET' } } } }, { url_path: { path: { prefix: '/admin' } } }];
}

describe('DestinationRule ISTIO_MUTUAL', () => {
  const MESH = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: app}
spec:
  hosts: [reviews.app.svc.cluster.local]
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: reviews}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: r1, namespace: app}
spec: {address: 10.0.0.1, labels: {app: reviews, version: v1}, serviceAccount: reviews}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: r2, namespace: app}
spec: {address: 10.0.0.2, labels: {app: reviews, version: v2}, serviceAccount: reviews-v2}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: app}
spec:
  hosts: [ext.example.com]
  resolution: DNS
  ports: [{number: 443, name: tls, protocol: TLS}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: all, namespace: app}
spec:
  host: "*.app.svc.cluster.local"
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ext, namespace: app}
spec:
  host: ext.example.com
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
`;
  type Tls = { sni: string; common_tls_context: { tls_certificate_sds_secret_configs: { name: string }[]; alpn_protocols: string[]; combined_validation_context: { default_validation_context: { match_typed_subject_alt_names: unknown[] }; validation_context_sds_secret_config: { name: string } } } };
  const tlsOf = (c: Cluster | undefined): Tls => c?.transport_socket?.typed_config as unknown as Tls;

  it('checks the destination service accounts as URI SANs, SNI outbound_.port_.subset_.host, SDS default + ROOTCA', () => {
    const push = pushFrom(MESH);
    const clusters = new Map(buildClusters(push, computeScope(push, proxy())).map((c) => [c.name, c]));
    const base = tlsOf(clusters.get('outbound|9080||reviews.app.svc.cluster.local'));
    assert.equal(base.sni, 'outbound_.9080_._.reviews.app.svc.cluster.local');
    assert.equal(tlsOf(clusters.get('outbound|9080|v1|reviews.app.svc.cluster.local')).sni, 'outbound_.9080_.v1_.reviews.app.svc.cluster.local');
    assert.deepEqual(base.common_tls_context.tls_certificate_sds_secret_configs.map((s) => s.name), ['default']);
    assert.equal(base.common_tls_context.combined_validation_context.validation_context_sds_secret_config.name, 'ROOTCA');
    assert.deepEqual(base.common_tls_context.alpn_protocols, ['istio-peer-exchange', 'istio']);
    assert.deepEqual(base.common_tls_context.combined_validation_context.default_validation_context.match_typed_subject_alt_names, [
      { san_type: 'URI', matcher: { exact: 'spiffe://cluster.local/ns/app/sa/reviews' } },
      { san_type: 'URI', matcher: { exact: 'spiffe://cluster.local/ns/app/sa/reviews-v2' } },
    ]);
  });

  it('uses ServiceEntry subjectAltNames, else falls back to the trust-domain prefix', () => {
    let push = pushFrom(MESH);
    let ext = tlsOf(buildClusters(push, computeScope(push, proxy())).find((c) => c.name === 'outbound|443||ext.example.com'));
    assert.deepEqual(ext.common_tls_context.combined_validation_context.default_validation_context.match_typed_subject_alt_names, [
      { san_type: 'URI', matcher: { prefix: 'spiffe://cluster.local/' } },
    ]);
    push = pushFrom(MESH.replace('hosts: [ext.example.com]', 'hosts: [ext.example.com]\n  subjectAltNames: ["spiffe://cluster.local/ns/ext/sa/api"]'));
    ext = tlsOf(buildClusters(push, computeScope(push, proxy())).find((c) => c.name === 'outbound|443||ext.example.com'));
    assert.deepEqual(ext.common_tls_context.combined_validation_context.default_validation_context.match_typed_subject_alt_names, [
      { san_type: 'URI', matcher: { exact: 'spiffe://cluster.local/ns/ext/sa/api' } },
    ]);
  });

  it('gives proxyless gRPC clients no transport socket', () => {
    const push = pushFrom(MESH);
    const c = buildClusters(push, computeScope(push, proxy({ generator: 'grpc' }))).find((x) => x.name === 'outbound|9080||reviews.app.svc.cluster.local');
    assert.ok(c);
    assert.equal(c.transport_socket, undefined);
  });
});

describe('security validation', () => {
  const errorsOf = (yaml: string): string[] =>
    validateYaml(yaml, 't.yaml').flatMap((r) => (r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`)));

  it('refuses CUSTOM, requestPrincipals, unknown when keys, bad CIDRs and ports, port-level mTLS without a selector', () => {
    const errors = errorsOf(
      ap('app', 'custom', '{action: CUSTOM, provider: {name: ext}}') +
        ap('app', 'jwt', '{rules: [{from: [{source: {requestPrincipals: ["*"], ipBlocks: ["10.0.0.300"]}}], to: [{operation: {ports: ["http"]}}], when: [{key: "request.auth.claims[iss]", values: [x]}]}]}') +
        pa('app', 'ports', '{portLevelMtls: {"8080": {mode: STRICT}}}'),
    );
    assert.deepEqual(errors, [
      'spec.action: CUSTOM (external authorization) is not supported; use ALLOW, DENY or AUDIT',
      'spec.rules[0].from[0].source.requestPrincipals: request authentication (JWT) is not supported',
      'spec.rules[0].from[0].source.ipBlocks[0]: "10.0.0.300" is not an IP address or CIDR range',
      'spec.rules[0].to[0].operation.ports[0]: "http" is not a port number (1-65535)',
      'spec.rules[0].when[0].key: "request.auth.claims[iss]" is not supported; use request.headers[<name>], source.ip, remote.ip, source.namespace, source.principal, destination.ip, destination.port, connection.sni',
      'spec.portLevelMtls: needs a workload selector (spec.selector.matchLabels), as in Istio',
    ]);
    assert.deepEqual(errorsOf(ap('app', 'ok', '{rules: [{from: [{source: {ipBlocks: ["10.0.0.0/8", "::1"]}}], when: [{key: destination.port, values: ["80"]}]}]}')), []);
  });
});
