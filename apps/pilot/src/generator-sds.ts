/**
 * SDS over ADS: the Gateway TLS credentials (`kubernetes://<credentialName>`, `...-cacert`) of a router
 * proxy's terminating servers, resolved in the proxy's own namespace. Sidecars get none.
 */
import type { Generator } from './generators';
import { serverSecrets } from './translate-gateway-tls';

export const generateSds: Generator = (push, scope) => {
  if (scope.type !== 'router' || scope.generator !== 'envoy') return [];
  const out = new Map<string, object>();
  for (const server of scope.gatewayServers) {
    const r = serverSecrets(push, scope.namespace, server);
    if ('secrets' in r) for (const s of r.secrets) if (!out.has(s.name)) out.set(s.name, s);
  }
  return [...out.values()];
};
