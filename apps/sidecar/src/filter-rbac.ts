/**
 * envoy.filters.http.rbac: authorizes each request against the connection's peer identity (mTLS SPIFFE id),
 * addresses, path and headers. Denied: 403 "RBAC: access denied", response flag RBAC, counted. Shadow
 * rules are evaluated and counted, never enforced.
 */
import type { FilterHost, HttpFilter } from './http-filter';
import type { HttpStream } from './http-stream';
import { evaluateRbac, type RbacConfig, type RbacInput } from './rbac-policy';
import { Flag } from './response-flags';
import type { MeshStats } from './stats';
import { peerPrincipalOf } from './tls-peer';

export class RbacFilter implements HttpFilter {
  constructor(
    private readonly config: RbacConfig,
    private readonly host: FilterHost,
    private readonly stats: MeshStats,
  ) {}

  decode(s: HttpStream): boolean {
    const rules = this.config.rules;
    const shadow = this.config.shadow;
    if (!rules && !shadow) return true;
    const socket = s.req.socket;
    const input: RbacInput = {
      principal: peerPrincipalOf(socket),
      remoteIp: s.downstreamAddress,
      destinationIp: socket?.localAddress ?? '',
      destinationPort: socket?.localPort ?? 0,
      headers: s.req.headers,
      path: s.query.path,
    };
    if (shadow && !evaluateRbac(shadow, input).allowed) this.stats.server.rbac_shadow_denied++;
    if (!rules) return true;
    const decision = evaluateRbac(rules, input);
    if (rules.action === 'LOG') {
      // AUDIT: never denies; a matched policy is recorded.
      if (decision.policy !== '') this.stats.server.rbac_logged++;
      return true;
    }
    if (decision.allowed) {
      this.stats.server.rbac_allowed++;
      return true;
    }
    this.stats.server.rbac_denied++;
    s.flags |= Flag.RBAC;
    this.host.sendLocal(s, 403, 'RBAC: access denied');
    return false;
  }
}
