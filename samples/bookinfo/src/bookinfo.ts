/**
 * Assembly of one Bookinfo service from typed options (no globals): a router with /health and the
 * service's routes, its upstreams, and the HTTP server. main.ts and the tests both start services here.
 */
import { hostname } from 'node:os';
import type { HostPort, Logger } from '@mesh/runtime';
import type { ReviewsVersion, ServiceName } from './flags';
import { Upstream } from './http-client';
import { Router, startServer, type StartedServer } from './http-server';
import { addDetailsRoutes } from './service-details';
import { addProductPageRoutes } from './service-productpage';
import { addRatingsRoutes } from './service-ratings';
import { addReviewsRoutes } from './service-reviews';

export interface BookinfoOptions {
  service: ServiceName;
  listen: HostPort;
  version: string;
  serviceAccount: string;
  namespace: string;
  detailsAddress: string[];
  reviewsAddress: string[];
  ratingsAddress: string[];
  /** Host header of calls to each upstream (a sidecar's outbound listener routes by it); undefined: the address called. */
  detailsHost?: string;
  reviewsHost?: string;
  ratingsHost?: string;
  detailsTimeoutMs: number;
  reviewsTimeoutMs: number;
  reviewsRetries: number;
  ratingsTimeoutMs: number;
}

/** Defaults for tests and embedding; main.ts gets the same values from flags.ts. */
export function bookinfoDefaults(service: ServiceName): BookinfoOptions {
  return {
    service,
    listen: { host: '127.0.0.1', port: 0 },
    version: 'v1',
    serviceAccount: `bookinfo-${service}`,
    namespace: 'default',
    detailsAddress: ['127.0.0.1:9081'],
    reviewsAddress: ['127.0.0.1:9082'],
    ratingsAddress: ['127.0.0.1:9085'],
    detailsTimeoutMs: 3000,
    reviewsTimeoutMs: 3000,
    reviewsRetries: 1,
    ratingsTimeoutMs: 10_000,
  };
}

type Builder = (router: Router, o: BookinfoOptions, log: Logger, upstreams: Upstream[]) => void;

function upstream(list: Upstream[], service: string, addresses: string[], timeoutMs: number, retries: number, host: string | undefined): Upstream {
  const u = new Upstream({ service, addresses, timeoutMs, retries, host });
  list.push(u);
  return u;
}

const BUILDERS: Record<ServiceName, Builder> = {
  details: (router) => addDetailsRoutes(router),
  ratings: (router) => addRatingsRoutes(router),
  reviews: (router, o, log, ups) =>
    addReviewsRoutes(router, {
      version: o.version as ReviewsVersion,
      podname: `reviews-${o.version}-${hostname()}-${process.pid}`,
      ratings: upstream(ups, 'ratings', o.ratingsAddress, o.ratingsTimeoutMs, 0, o.ratingsHost),
      log,
    }),
  productpage: (router, o, log, ups) =>
    addProductPageRoutes(router, {
      details: upstream(ups, 'details', o.detailsAddress, o.detailsTimeoutMs, 0, o.detailsHost),
      reviews: upstream(ups, 'reviews', o.reviewsAddress, o.reviewsTimeoutMs, o.reviewsRetries, o.reviewsHost),
      log,
    }),
};

export async function startBookinfo(o: BookinfoOptions, log: Logger): Promise<StartedServer> {
  const identity = { service: o.service, version: o.version, serviceAccount: o.serviceAccount, namespace: o.namespace };
  const router = new Router().get('/health', () => ({ status: 200, body: { status: 'ok', ...identity } }));
  const upstreams: Upstream[] = [];
  BUILDERS[o.service](router, o, log, upstreams);
  const server = await startServer(router, o.listen, log);
  log.info('listening', { ...identity, address: `${server.address.host}:${server.address.port}` });
  return {
    address: server.address,
    async stop() {
      await server.stop();
      for (const u of upstreams) u.close();
    },
  };
}
