/**
 * JSON Schemas for security.istio.io/v1beta1 (PeerAuthentication, AuthorizationPolicy). Registered and
 * validated; not translated to xDS yet.
 */
type Schema = Record<string, unknown>;
const strList: Schema = { type: 'array', items: { type: 'string' } };
const selector: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: { matchLabels: { type: 'object', additionalProperties: { type: 'string' } } },
};
const mtls: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: { mode: { enum: ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'] } },
};

export const peerAuthenticationSchema: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: { selector, mtls, portLevelMtls: { type: 'object', additionalProperties: mtls } },
};

const source: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    principals: strList, notPrincipals: strList, requestPrincipals: strList, notRequestPrincipals: strList,
    namespaces: strList, notNamespaces: strList, ipBlocks: strList, notIpBlocks: strList,
    remoteIpBlocks: strList, notRemoteIpBlocks: strList,
  },
};
const operation: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: { hosts: strList, notHosts: strList, ports: strList, notPorts: strList, methods: strList, notMethods: strList, paths: strList, notPaths: strList },
};
export const authorizationPolicySchema: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    selector,
    targetRef: { type: 'object' },
    targetRefs: { type: 'array' },
    action: { enum: ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'] },
    provider: { type: 'object' },
    rules: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        properties: {
          from: { type: 'array', items: { type: 'object', additionalProperties: false, properties: { source } } },
          to: { type: 'array', items: { type: 'object', additionalProperties: false, properties: { operation } } },
          when: {
            type: 'array',
            items: { type: 'object', additionalProperties: false, required: ['key'], properties: { key: { type: 'string' }, values: strList, notValues: strList } },
          },
        },
      },
    },
  },
};
