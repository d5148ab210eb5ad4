/**
 * Shapes shared by the builders: durations, addresses, config sources, typed_config Anys, Struct metadata.
 * Field names are Envoy's (snake_case), values in proto-loader's canonical object form.
 */
import type { DecodedAny, XdsMessage } from './protos';

/** google.protobuf.Duration in canonical form. */
export interface Duration {
  seconds: string;
  nanos: number;
}

export function durationFromMs(ms: number): Duration {
  const whole = Math.floor(ms / 1000);
  return { seconds: String(whole), nanos: Math.round((ms - whole * 1000) * 1e6) };
}

export function durationToMs(d: Partial<Duration> | null | undefined): number {
  if (!d) return 0;
  return Number(d.seconds ?? 0) * 1000 + (d.nanos ?? 0) / 1e6;
}

/** envoy.config.core.v3.SocketAddress. */
export interface SocketAddress {
  address: string;
  port_value: number;
  protocol?: 'TCP' | 'UDP';
  ipv4_compat?: boolean;
}

/** envoy.config.core.v3.Address (socket form only). */
export interface Address {
  socket_address: SocketAddress;
}

export function socketAddress(address: string, port: number): Address {
  return { socket_address: { address, port_value: port } };
}

/** envoy.config.core.v3.ConfigSource pointing at the ADS stream. */
export interface ConfigSource {
  ads?: Record<string, never>;
  resource_api_version: 'V3';
  initial_fetch_timeout?: Duration;
}

export function adsConfigSource(): ConfigSource {
  return { ads: {}, resource_api_version: 'V3' };
}

/** A typed_config Any in canonical form. */
export function typedConfig(typeUrl: string, fields: object): DecodedAny {
  return { '@type': typeUrl, ...(fields as XdsMessage) };
}

/** google.protobuf.UInt32Value / BoolValue wrappers. */
export interface UInt32Value {
  value: number;
}
export interface BoolValue {
  value: boolean;
}

/** envoy.type.v3.FractionalPercent. */
export interface FractionalPercent {
  numerator: number;
  denominator: 'HUNDRED' | 'TEN_THOUSAND' | 'MILLION';
}

/** A percentage (0..100, fractional allowed) as a FractionalPercent with a MILLION denominator. */
export function fractionalPercent(percent: number): FractionalPercent {
  return { numerator: Math.round(percent * 10_000), denominator: 'MILLION' };
}

/** envoy.type.matcher.v3.StringMatcher (one of). */
export interface StringMatcher {
  exact?: string;
  prefix?: string;
  suffix?: string;
  contains?: string;
  safe_regex?: RegexMatcher;
  ignore_case?: boolean;
}

/** envoy.type.matcher.v3.RegexMatcher (Google RE2). */
export interface RegexMatcher {
  regex: string;
}

export function regexMatcher(regex: string): RegexMatcher {
  return { regex };
}

/** envoy.config.core.v3.HeaderValueOption. */
export interface HeaderValueOption {
  header: { key: string; value: string };
  append_action?:
    | 'APPEND_IF_EXISTS_OR_ADD'
    | 'ADD_IF_ABSENT'
    | 'OVERWRITE_IF_EXISTS_OR_ADD'
    | 'OVERWRITE_IF_EXISTS';
}

/** envoy.config.core.v3.Metadata: filter name -> plain JSON (converted to Struct by the builders). */
export interface Metadata {
  filter_metadata: Record<string, XdsMessage>;
}
