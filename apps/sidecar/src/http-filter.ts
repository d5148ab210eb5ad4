/**
 * The HTTP filter contract: filters are built once per listener and called per request with the stream.
 * `decode` returns true to pass the request on, false when it answered or will resume later through
 * `FilterHost.continueDecoding`.
 */
import type { HttpStream } from './http-stream';

export interface HttpFilter {
  decode(s: HttpStream): boolean;
}

export interface FilterHost {
  continueDecoding(s: HttpStream): void;
  sendLocal(s: HttpStream, status: number, body: string, headers?: Record<string, string>): void;
  sendGrpcLocal(s: HttpStream, grpcStatus: number, message: string): void;
}
