/**
 * What one stream subscribed to for one type URL: a wildcard or a set of names. Every request's
 * resource_names is diffed against it (any request, even an ACK, may change it).
 */
import { WILDCARD_TYPES } from './protos';

export interface SubscriptionDiff {
  added: string[];
  removed: string[];
  /** Wildcard switched on or off. */
  wildcardChanged: boolean;
}

export class Subscription {
  wildcard = false;
  readonly names = new Set<string>();

  constructor(readonly typeUrl: string) {}

  /** True when `name` is in scope (wildcard covers every name). */
  covers(name: string): boolean {
    return this.wildcard || this.names.has(name);
  }

  /**
   * SotW: the request's resource_names replace the subscription. An empty list on the first request of a
   * wildcard-capable type (LDS/CDS), or '*', means wildcard.
   */
  replace(resourceNames: readonly string[], firstRequest: boolean): SubscriptionDiff {
    const wildcardAllowed = WILDCARD_TYPES.has(this.typeUrl);
    const explicitStar = resourceNames.includes('*');
    const wasWildcard = this.wildcard;
    if (wildcardAllowed) {
      if (explicitStar) this.wildcard = true;
      else if (firstRequest && resourceNames.length === 0) this.wildcard = true;
      else if (resourceNames.length > 0) this.wildcard = false;
      // An empty list after the first request keeps the current mode (legacy wildcard stays wildcard).
    }
    const next = new Set(resourceNames.filter((n) => n !== '*'));
    const added = [...next].filter((n) => !this.names.has(n));
    const removed = [...this.names].filter((n) => !next.has(n));
    this.names.clear();
    for (const n of next) this.names.add(n);
    return { added, removed, wildcardChanged: wasWildcard !== this.wildcard };
  }

  /** Delta: subscribe/unsubscribe lists ('*' toggles the wildcard for LDS/CDS). */
  apply(subscribe: readonly string[], unsubscribe: readonly string[], firstRequest: boolean): SubscriptionDiff {
    const wildcardAllowed = WILDCARD_TYPES.has(this.typeUrl);
    const wasWildcard = this.wildcard;
    if (wildcardAllowed && firstRequest && subscribe.length === 0) this.wildcard = true;
    const added: string[] = [];
    const removed: string[] = [];
    for (const n of subscribe) {
      if (n === '*') {
        if (wildcardAllowed) this.wildcard = true;
      } else if (!this.names.has(n)) {
        this.names.add(n);
        added.push(n);
      }
    }
    for (const n of unsubscribe) {
      if (n === '*') this.wildcard = false;
      else if (this.names.delete(n)) removed.push(n);
    }
    return { added, removed, wildcardChanged: wasWildcard !== this.wildcard };
  }

  /** '*' or the sorted names, for status(). */
  describe(): '*' | string[] {
    return this.wildcard ? '*' : [...this.names].sort();
  }
}
