/** State-of-the-World requests and merging for the ADS client. */
import type { ClientProtocol, ClientTypeState, MergedResponse } from './client-protocol';
import { decodeResource } from './client-protocol';
import { resourceName, WILDCARD_TYPES, type DecodedAny, type WireAny } from './protos';
import type { ValidationError } from './validation';

interface DiscoveryResponse {
  version_info?: string;
  resources?: (WireAny | DecodedAny)[];
  type_url?: string;
  nonce?: string;
}

function request(state: ClientTypeState, version: string): Record<string, unknown> {
  return {
    version_info: version,
    resource_names: state.wildcard ? [] : [...state.names],
    type_url: state.typeUrl,
    response_nonce: state.nonce,
  };
}

export const sotwProtocol: ClientProtocol = {
  method: 'StreamAggregatedResources',
  initial: (state) => request(state, state.version),
  // Any request may change resource_names: resend the whole list with the current nonce.
  subscriptionChanged: (state) => request(state, state.version),
  ack: (state) => request(state, state.version),
  nack: (state, message, code) => ({ ...request(state, state.version), error_detail: { code, message, details: [] } }),
  header(raw) {
    const res = raw as DiscoveryResponse;
    return { typeUrl: res.type_url ?? '', nonce: res.nonce ?? '' };
  },
  merge(state, raw): MergedResponse {
    const res = raw as DiscoveryResponse;
    const typeUrl = state.typeUrl;
    const received = new Map<string, DecodedAny>();
    const errors: ValidationError[] = [];
    (res.resources ?? []).forEach((any, i) => {
      try {
        const decoded = decodeResource(typeUrl, any);
        received.set(resourceName(typeUrl, decoded), decoded);
      } catch (err) {
        errors.push({ path: `resources[${i}]`, message: (err as Error).message });
      }
    });
    // LDS/CDS responses are full state; RDS/EDS responses may carry some names only.
    const fullState = WILDCARD_TYPES.has(typeUrl);
    const resources = fullState ? new Map<string, DecodedAny>() : new Map(state.resources);
    for (const [name, r] of received) if (state.wildcard || state.names.has(name)) resources.set(name, r);
    const removed = fullState ? [...state.resources.keys()].filter((n) => !resources.has(n)) : [];
    return { version: res.version_info ?? '', resources, resourceVersions: new Map(), changed: [...received.keys()], removed, errors };
  },
};
