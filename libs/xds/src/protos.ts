/**
 * Envoy's v3 protos, loaded once (lazily) from the copies shipped inside @grpc/grpc-js-xds, and the helpers
 * that move a resource between its canonical JS shape and the wire.
 *
 * The canonical shape of a resource everywhere in the mesh is @grpc/proto-loader's decoded object form with
 * keepCase/json: snake_case field names, a nested Any as `{ '@type': 'type.googleapis.com/...', ...fields }`,
 * 64-bit integers and durations' seconds as strings, enums as their names. One exception comes from protobufjs's
 * built-in well-known types: google.protobuf.Struct/Value fields are camelCase (`{ fields: { k: { stringValue } } }`);
 * use jsonToStruct/structToJson (node.ts) rather than writing them by hand.
 */
import type * as grpc from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';
import type * as protobuf from 'protobufjs';
import { descriptorPath, envoyProtoIncludeDirs, loadDescriptorRoot, parseProtoFiles } from './protos-descriptor';
import { xdsErrors } from './errors';

export { envoyProtoIncludeDirs } from './protos-descriptor';

const TYPE_PREFIX = 'type.googleapis.com/';

/** Type URLs of the resources served over ADS/SDS. */
export const TYPE_URL = {
  LISTENER: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  ROUTE: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  CLUSTER: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  ENDPOINT: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  SECRET: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
} as const;
export type XdsTypeUrl = (typeof TYPE_URL)[keyof typeof TYPE_URL];

/** Type URLs of extension configs carried in `typed_config` Anys. */
export const EXTENSION_TYPE_URL = {
  HTTP_CONNECTION_MANAGER:
    'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  ROUTER: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  FAULT: 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
  HTTP_RBAC: 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
  HTTP_RBAC_PER_ROUTE: 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute',
  NETWORK_RBAC: 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC',
  CORS: 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors',
  CORS_POLICY: 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy',
  TCP_PROXY: 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  UPSTREAM_TLS: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  DOWNSTREAM_TLS: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  HTTP_PROTOCOL_OPTIONS: 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
} as const;

/** All xDS resource type URLs this library serves, in make-before-break push order. */
export const PUSH_ORDER: readonly XdsTypeUrl[] = [
  TYPE_URL.CLUSTER,
  TYPE_URL.ENDPOINT,
  TYPE_URL.LISTENER,
  TYPE_URL.ROUTE,
  TYPE_URL.SECRET,
];

/** Wildcard (subscribe to all) applies to these types only. */
export const WILDCARD_TYPES: ReadonlySet<string> = new Set([TYPE_URL.LISTENER, TYPE_URL.CLUSTER]);

export function isXdsTypeUrl(value: string): value is XdsTypeUrl {
  return (PUSH_ORDER as readonly string[]).includes(value);
}

/** A resource (or any message) in canonical decoded form. */
export type XdsMessage = Record<string, unknown>;
/** A decoded Any: `{ '@type': url, ...fields }`. */
export type DecodedAny = { '@type': string } & XdsMessage;
/** An Any as it travels in DiscoveryResponse.resources. */
export interface WireAny {
  type_url: string;
  value: Buffer;
}

/**
 * Files the xDS client and server never need to encode or decode resources, parsed (with everything else)
 * only when a type outside the descriptor is first looked up. The admin dump alone pulls in the bootstrap
 * and most of Envoy's extension protos (several MB of heap in every sidecar).
 */
const LAZY_PROTO_FILES = ['envoy/admin/v3/config_dump.proto'];

/** The files whose types (and what they reference) are in the pre-built descriptor (protos-descriptor.ts). */
export const DESCRIPTOR_PROTO_FILES: readonly string[] = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/service/secret/v3/sds.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'envoy/extensions/filters/network/rbac/v3/rbac.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/filters/listener/http_inspector/v3/http_inspector.proto',
  'envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto',
  'envoy/extensions/filters/network/local_ratelimit/v3/local_rate_limit.proto',
  'envoy/extensions/filters/http/cors/v3/cors.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
];

const PROTO_FILES = [...DESCRIPTOR_PROTO_FILES, ...LAZY_PROTO_FILES];

/** proto-loader options used everywhere in the mesh (the canonical shape follows from them). */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  json: true,
};

export interface XdsProtos {
  /**
   * proto-loader's package definition of the same files (built on first access, about 1 s). The server
   * and client do not need it: they use serviceDefinition().
   */
  readonly packageDefinition: protoLoader.PackageDefinition;
  /** The protobufjs type of a message by full name (e.g. 'envoy.config.listener.v3.Listener'). */
  messageType(fullName: string): protobuf.Type;
  /** Encoder and decoder of one message type in canonical form (what serviceDefinition's methods use). */
  messageCodec(fullName: string): { encode(message: object): Uint8Array; decode(bytes: Uint8Array): XdsMessage };
  /**
   * A grpc-js service definition (e.g. 'envoy.service.discovery.v3.AggregatedDiscoveryService') whose
   * messages travel in the canonical form, as proto-loader would produce them.
   */
  serviceDefinition(fullName: string): grpc.ServiceDefinition;
}

let loaded: XdsProtos | undefined;

/**
 * Loads the descriptor on first use and returns the same object afterwards. A type the descriptor does not
 * hold is looked up in a root parsed from every .proto file (the lazy ones too), built on first need (~1 s).
 */
export function loadXdsProtos(): XdsProtos {
  if (loaded) return loaded;
  const r = loadDescriptorRoot(descriptorPath(DESCRIPTOR_PROTO_FILES));
  const types = new Map<string, protobuf.Type>();
  const messageType = (fullName: string): protobuf.Type => {
    let type = types.get(fullName);
    if (!type) {
      try {
        type = r.lookupType(fullName);
      } catch {
        type = fullRoot().lookupType(fullName);
      }
      types.set(fullName, type);
    }
    return type;
  };
  const services = new Map<string, grpc.ServiceDefinition>();
  let packageDefinition: protoLoader.PackageDefinition | undefined;
  loaded = {
    get packageDefinition() {
      // Required here: most processes never need proto-loader (and its own copy of the parsed files).
      const loader = require('@grpc/proto-loader') as typeof protoLoader;
      packageDefinition ??= loader.loadSync(PROTO_FILES, { ...PROTO_LOADER_OPTIONS, includeDirs: envoyProtoIncludeDirs() });
      return packageDefinition;
    },
    messageType,
    messageCodec(fullName) {
      const type = messageType(fullName);
      return { encode: (value) => type.encode(type.fromObject(value)).finish(), decode: deserializer(type) };
    },
    serviceDefinition(fullName) {
      let def = services.get(fullName);
      if (!def) {
        def = buildServiceDefinition(r.lookupService(fullName));
        services.set(fullName, def);
      }
      return def;
    },
  };
  return loaded;
}

function buildServiceDefinition(service: protobuf.Service): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<object, XdsMessage>> = {};
  const serviceName = service.fullName.replace(/^\./, '');
  for (const method of service.methodsArray) {
    method.resolve();
    const req = method.resolvedRequestType as protobuf.Type;
    const res = method.resolvedResponseType as protobuf.Type;
    def[method.name] = {
      path: `/${serviceName}/${method.name}`,
      requestStream: !!method.requestStream,
      responseStream: !!method.responseStream,
      requestSerialize: serializer(req),
      requestDeserialize: deserializer(req),
      responseSerialize: serializer(res),
      responseDeserialize: deserializer(res),
      originalName: method.name,
    };
  }
  return def as grpc.ServiceDefinition;
}

function serializer(type: protobuf.Type): (value: object) => Buffer {
  return (value) => {
    // Responses pre-encoded by the server (wire.ts) pass through untouched.
    if (Buffer.isBuffer(value)) return value;
    const bytes = type.encode(type.fromObject(value)).finish();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer(type: protobuf.Type): (bytes: Buffer) => XdsMessage {
  return (bytes) => type.toObject(type.decode(bytes), CONVERSION) as XdsMessage;
}

let full: protobuf.Root | undefined;

/** Every file, the lazy ones too, parsed from .proto text: only for types outside the descriptor. */
function fullRoot(): protobuf.Root {
  full ??= parseProtoFiles(PROTO_FILES);
  return full;
}

const CONVERSION: protobuf.IConversionOptions = {
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  json: true,
};

/** The message name of a type URL: 'type.googleapis.com/a.b.C' -> 'a.b.C'. */
export function messageNameOf(typeUrl: string): string {
  const slash = typeUrl.lastIndexOf('/');
  return slash >= 0 ? typeUrl.slice(slash + 1) : typeUrl;
}

export function typeUrlOf(messageName: string): string {
  return TYPE_PREFIX + messageName;
}

/**
 * Encodes a message in canonical form to protobuf bytes. Throws MESH_ERR_XDS_ENCODE naming the type and the
 * reason when a value cannot be converted. Unknown fields are dropped silently by protobufjs: check
 * generators with unknownFields() in their tests.
 */
export function encodeMessage(typeUrl: string, message: object): Buffer {
  const type = lookup(typeUrl);
  assertNestedTypesKnown(message);
  let msg: protobuf.Message;
  try {
    msg = type.fromObject(stripType(message as XdsMessage));
  } catch (err) {
    throw xdsErrors.create('ENCODE', { typeUrl, reason: (err as Error).message });
  }
  return Buffer.from(type.encode(msg).finish());
}

/** Decodes protobuf bytes of the given type into canonical form (nested Anys expanded). */
export function decodeMessage(typeUrl: string, bytes: Uint8Array): XdsMessage {
  const type = lookup(typeUrl);
  try {
    return type.toObject(type.decode(bytes), CONVERSION) as XdsMessage;
  } catch (err) {
    throw xdsErrors.create('DECODE', { typeUrl, reason: (err as Error).message });
  }
}

/** A resource (without or with '@type') to the wire Any of the given type URL. */
export function encodeAny(typeUrl: string, resource: object): WireAny {
  return { type_url: typeUrl, value: encodeMessage(typeUrl, resource) };
}

/** A wire Any back to canonical form; the result carries '@type'. */
export function decodeAny(any: WireAny): DecodedAny {
  if (!any || typeof any.type_url !== 'string') {
    throw xdsErrors.create('DECODE', { typeUrl: String(any?.type_url), reason: 'not an Any (missing type_url)' });
  }
  return { '@type': any.type_url, ...decodeMessage(any.type_url, any.value ?? Buffer.alloc(0)) };
}

/** The name of a resource: `name` for most types, `cluster_name` for ClusterLoadAssignment. */
export function resourceName(typeUrl: string, resource: XdsMessage): string {
  const value = typeUrl === TYPE_URL.ENDPOINT ? resource.cluster_name : resource.name;
  return typeof value === 'string' ? value : '';
}

/** The protobufjs type of a type URL (MESH_ERR_XDS_UNKNOWN_TYPE when Envoy's protos do not have it). */
export function messageTypeOf(typeUrl: string): protobuf.Type {
  return lookup(typeUrl);
}

function lookup(typeUrl: string): protobuf.Type {
  try {
    return loadXdsProtos().messageType(messageNameOf(typeUrl));
  } catch {
    throw xdsErrors.create('UNKNOWN_TYPE', { typeUrl });
  }
}

/**
 * protobufjs encodes a nested Any whose '@type' it cannot resolve as an empty Any (no type URL, no bytes)
 * instead of failing, and Envoy then rejects the whole resource far from the cause. Every nested '@type'
 * must name a message loaded from Envoy's protos.
 */
function assertNestedTypesKnown(value: unknown): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const item of value) assertNestedTypesKnown(item);
    return;
  }
  if (Buffer.isBuffer(value)) return;
  const typeUrl = (value as Record<string, unknown>)['@type'];
  if (typeof typeUrl === 'string') lookup(typeUrl);
  for (const key of Object.keys(value)) assertNestedTypesKnown((value as Record<string, unknown>)[key]);
}

function stripType(message: XdsMessage): XdsMessage {
  if (!('@type' in message)) return message;
  const { '@type': _drop, ...rest } = message;
  return rest;
}
