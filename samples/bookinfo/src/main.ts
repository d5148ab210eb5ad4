import { runApp } from '@mesh/runtime';
import { startBookinfo } from './bookinfo';
import { errors } from './errors';
import { flags, REVIEWS_VERSIONS, usageInfo, type ServiceName } from './flags';

void runApp({
  component: 'bookinfo',
  usage: usageInfo,
  flags,
  async start({ flags: f, log }) {
    const service = f.service as ServiceName;
    if (service === 'reviews' && !(REVIEWS_VERSIONS as readonly string[]).includes(f.version)) {
      throw errors.create('VERSION_INVALID', { service, version: f.version, allowed: REVIEWS_VERSIONS });
    }
    const serviceAccount = f.serviceAccount ?? `bookinfo-${service}`;
    return startBookinfo(
      {
        service,
        listen: f.listen,
        version: f.version,
        serviceAccount,
        namespace: f.namespace,
        detailsAddress: f.detailsAddress,
        reviewsAddress: f.reviewsAddress,
        ratingsAddress: f.ratingsAddress,
        detailsHost: f.detailsHost,
        reviewsHost: f.reviewsHost,
        ratingsHost: f.ratingsHost,
        detailsTimeoutMs: f.detailsTimeout,
        reviewsTimeoutMs: f.reviewsTimeout,
        reviewsRetries: f.reviewsRetries,
        ratingsTimeoutMs: f.ratingsTimeout,
      },
      log.child({ service, version: f.version, serviceAccount }),
    );
  },
});
