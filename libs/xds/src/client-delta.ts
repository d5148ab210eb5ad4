/** Delta (incremental) requests and merging for the ADS client. */
import type { ClientProtocol, MergedResponse } from './client-protocol';
import { decodeResource } from './client-protocol';
import type { DecodedAny, WireAny } from './protos';
import type { ValidationError } from './validation';

interface DeltaDiscoveryResponse {
  system_version_info?: string;
  resources?: { name?: string; version?: string; resource?: WireAny | DecodedAny | null }[];
  type_url?: string;
  removed_resources?: string[];
  nonce?: string;
}

export const deltaProtocol: ClientProtocol = {
  method: 'DeltaAggregatedResources',
  initial: (state) => ({
    type_url: state.typeUrl,
    resource_names_subscribe: state.wildcard ? ['*'] : [...state.names],
    // On a reconnect the server sends only what differs from what we hold.
    initial_resource_versions: Object.fromEntries(state.resourceVersions),
  }),
  subscriptionChanged(state, previous) {
    const subscribe = [...state.names].filter((n) => !previous.names.has(n));
    const unsubscribe = [...previous.names].filter((n) => !state.names.has(n));
    if (state.wildcard && !previous.wildcard) subscribe.push('*');
    if (!state.wildcard && previous.wildcard) unsubscribe.push('*');
    if (subscribe.length === 0 && unsubscribe.length === 0) return undefined;
    return { type_url: state.typeUrl, resource_names_subscribe: subscribe, resource_names_unsubscribe: unsubscribe };
  },
  ack: (state) => ({ type_url: state.typeUrl, response_nonce: state.nonce }),
  nack: (state, message, code) => ({ type_url: state.typeUrl, response_nonce: state.nonce, error_detail: { code, message, details: [] } }),
  header(raw) {
    const res = raw as DeltaDiscoveryResponse;
    return { typeUrl: res.type_url ?? '', nonce: res.nonce ?? '' };
  },
  merge(state, raw): MergedResponse {
    const res = raw as DeltaDiscoveryResponse;
    const resources = new Map(state.resources);
    const resourceVersions = new Map(state.resourceVersions);
    const errors: ValidationError[] = [];
    const changed: string[] = [];
    (res.resources ?? []).forEach((r, i) => {
      try {
        if (!r.name) throw new Error('resource without a name');
        if (!r.resource) throw new Error(`resource ${r.name} without a body`);
        resources.set(r.name, decodeResource(state.typeUrl, r.resource));
        resourceVersions.set(r.name, r.version ?? '');
        changed.push(r.name);
      } catch (err) {
        errors.push({ resource: r.name, path: `resources[${i}]`, message: (err as Error).message });
      }
    });
    const removed: string[] = [];
    for (const name of res.removed_resources ?? []) {
      if (resources.delete(name)) removed.push(name);
      resourceVersions.delete(name);
    }
    return { version: res.system_version_info ?? '', resources, resourceVersions, changed, removed, errors };
  },
};
