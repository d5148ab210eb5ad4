/**
 * In the mesh a service calls its own sidecar's outbound listener and names the service it wants in the
 * Host header (--reviews-host ...): the sidecar routes by authority. Without the flag the Host is the address.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '@mesh/runtime';
import { bookinfoDefaults, startBookinfo } from '../src/bookinfo';
import type { StartedServer } from '../src/http-server';
import { http, startRecorder } from './helpers';

const log = createLogger('bookinfo-test', 'silent');

describe('the Host header of calls to a dependency', () => {
  const stops: (() => Promise<void>)[] = [];
  let details: Awaited<ReturnType<typeof startRecorder>>;
  let reviews: Awaited<ReturnType<typeof startRecorder>>;
  let productpage: StartedServer;

  before(async () => {
    details = await startRecorder({ id: 0, author: 'A', year: 1, type: 't', pages: 1, publisher: 'p', language: 'l', 'ISBN-10': 'x', 'ISBN-13': 'y' });
    reviews = await startRecorder({ id: 0, podname: 'spy', version: 'v1', reviews: [] });
    stops.push(details.stop, reviews.stop);
    productpage = await startBookinfo(
      {
        ...bookinfoDefaults('productpage'),
        detailsAddress: [details.address],
        reviewsAddress: [reviews.address],
        reviewsHost: 'reviews.default.svc.cluster.local:9080',
      },
      log,
    );
    stops.push(productpage.stop);
  });

  after(async () => {
    for (const stop of stops.reverse()) await stop();
  });

  it('is --<service>-host when given, else the address called', async () => {
    const res = await http('GET', `http://127.0.0.1:${productpage.address.port}/productpage`);
    assert.equal(res.status, 200);
    assert.equal(reviews.seen.length, 1);
    assert.equal(reviews.seen[0].headers.host, 'reviews.default.svc.cluster.local:9080');
    assert.equal(details.seen.length, 1);
    assert.equal(details.seen[0].headers.host, details.address);
  });
});
