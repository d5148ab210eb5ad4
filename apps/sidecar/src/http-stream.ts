/**
 * One downstream HTTP request as it passes the connection manager, the filters and the router. All of its
 * state lives in this class, with every field set in the constructor (stable shape on the hot path).
 */
import type * as http2 from 'node:http2';
import type { Readable } from 'node:stream';
import type { CorsPolicy } from './config-http-filters';
import type { Route, VirtualHost } from './config-route';
import { H1Request, H1Response } from './downstream-h1-exchange';
import type { RouteQuery } from './route-match';

/** HTTP/1.1 comes from the listener's own codec, HTTP/2 from node:http2's compatibility API. */
export type DownstreamRequest = H1Request | http2.Http2ServerRequest;
export type DownstreamResponse = H1Response | http2.Http2ServerResponse;

/** The request body as a stream (HTTP/1.1: created on first use). */
export function requestBody(req: DownstreamRequest): Readable {
  return req instanceof H1Request ? req.body() : req;
}

/** true when a request body follows the head */
export function requestHasBody(req: DownstreamRequest): boolean {
  return req instanceof H1Request ? req.hasBody : !req.stream.endAfterHeaders;
}

/**
 * Writes response body bytes; false when the peer is full (then `onDrain` runs once it drained). A
 * `transient` chunk (a view of a reused read buffer) is copied unless it is written out at once.
 */
export function writeResponse(res: DownstreamResponse, chunk: Buffer, onDrain: () => void, transient: boolean): boolean {
  if (res instanceof H1Response ? res.write(chunk, transient) : res.write(transient ? Buffer.from(chunk) : chunk)) return true;
  if (res instanceof H1Response) res.ondrain = onDrain;
  else res.once('drain', onDrain);
  return false;
}

export function respond(res: DownstreamResponse, status: number, headers: Record<string, string | string[]>): void {
  if (res instanceof H1Response) res.writeHead(status, headers);
  else res.writeHead(status, headers);
}

export class HttpStream {
  /** response flags (Flag bits) */
  flags = 0;
  route: Route | undefined = undefined;
  vhost: VirtualHost | undefined = undefined;
  /** the cluster the router picked */
  clusterName = '';
  upstreamHost = '';
  /** final status sent downstream (0 while none) */
  status = 0;
  requestBytes = 0;
  responseBytes = 0;
  /** index of the next HTTP filter to run */
  filterIndex = 0;
  /** upstream service time, ms */
  upstreamMs = 0;
  attempts = 0;
  done = false;
  /** set when the downstream went away before the response completed */
  downstreamGone = false;
  /** cancel hook of whatever currently runs for this stream (delay timer, upstream request) */
  cancel: (() => void) | undefined = undefined;
  /** CORS: the allowed origin to echo on the response ('' when none), and the policy that allowed it */
  corsOrigin = '';
  corsPolicy: CorsPolicy | undefined = undefined;
  /** headers sent upstream (after mutations), kept for retries and mirrors */
  upstreamHeaders: Record<string, string | string[]> | undefined = undefined;
  /** the other sidecar's x-envoy-peer-metadata ('' when none): from the request inbound, the response outbound */
  peerMetadata = '';
  /** request body when buffered (retries/mirrors); undefined when streamed */
  body: Buffer | undefined = undefined;

  constructor(
    readonly req: DownstreamRequest,
    readonly res: DownstreamResponse,
    readonly query: RouteQuery,
    readonly requestId: string,
    readonly startMs: number,
    /** wall clock at the start (epoch ms), for the access log */
    readonly startEpochMs: number,
    readonly downstreamAddress: string,
    readonly http2: boolean,
  ) {}
}
