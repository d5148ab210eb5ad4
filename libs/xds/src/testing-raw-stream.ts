/**
 * A raw ADS stream over a real grpc-js client, for tests of the server's state machines: write requests
 * exactly as a client would and read the responses one by one with a bounded wait.
 */
import * as grpc from '@grpc/grpc-js';
import { loadXdsProtos } from './protos';

export interface RawAdsStream<Req, Res> {
  send(request: Req): void;
  /** The next response, or an error after `timeoutMs` (default 5 s). */
  next(timeoutMs?: number): Promise<Res>;
  /** Responses received and not yet read. */
  pending(): number;
  /** Stop reading (the server's writes then back up through HTTP/2 flow control), and read again. */
  pause(): void;
  resume(): void;
  /** Resolves with the status when the server ends the stream. */
  status(): Promise<grpc.StatusObject>;
  close(): void;
}

export type RawStreamMethod = 'StreamAggregatedResources' | 'DeltaAggregatedResources' | 'StreamSecrets';

export function openRawAdsStream<Req = Record<string, unknown>, Res = Record<string, unknown>>(
  address: string,
  method: RawStreamMethod = 'StreamAggregatedResources',
): RawAdsStream<Req, Res> {
  const service =
    method === 'StreamSecrets'
      ? 'envoy.service.secret.v3.SecretDiscoveryService'
      : 'envoy.service.discovery.v3.AggregatedDiscoveryService';
  const Ctor = grpc.makeGenericClientConstructor(loadXdsProtos().serviceDefinition(service), service);
  const client = new Ctor(address, grpc.credentials.createInsecure());
  const call = (client as unknown as Record<RawStreamMethod, () => grpc.ClientDuplexStream<Req, Res>>)[method].call(client);
  const received: Res[] = [];
  const waiters: ((r: Res) => void)[] = [];
  let statusResolve: (s: grpc.StatusObject) => void = () => undefined;
  const statusPromise = new Promise<grpc.StatusObject>((resolve) => (statusResolve = resolve));
  call.on('data', (res: Res) => {
    const w = waiters.shift();
    if (w) w(res);
    else received.push(res);
  });
  call.on('status', (s: grpc.StatusObject) => statusResolve(s));
  call.on('error', () => undefined);
  return {
    send: (request) => call.write(request),
    pending: () => received.length,
    next: (timeoutMs = 5000) => {
      const ready = received.shift();
      if (ready) return Promise.resolve(ready);
      return new Promise<Res>((resolve, reject) => {
        const timer = setTimeout(() => {
          const i = waiters.indexOf(done);
          if (i >= 0) waiters.splice(i, 1);
          reject(new Error(`no discovery response within ${timeoutMs} ms`));
        }, timeoutMs);
        const done = (r: Res): void => {
          clearTimeout(timer);
          resolve(r);
        };
        waiters.push(done);
      });
    },
    status: () => statusPromise,
    pause: () => call.pause(),
    resume: () => call.resume(),
    close: () => {
      call.cancel();
      client.close();
    },
  };
}
