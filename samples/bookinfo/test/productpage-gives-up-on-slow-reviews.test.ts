/**
 * productpage's own timeout and retry on reviews (3 s and one retry by default; shortened here): a reviews
 * that answers too late costs two attempts and ends in the reviews error section, while details still
 * shows. This is the behaviour Istio's ratings-delay task runs into.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '@mesh/runtime';
import { bookinfoDefaults, startBookinfo } from '../src/bookinfo';
import { bookDetails } from '../src/data-books';
import type { StartedServer } from '../src/http-server';
import { http, startRecorder } from './helpers';

const log = createLogger('bookinfo-test', 'silent');

describe('productpage gives up on a slow reviews', () => {
  const stops: (() => Promise<void>)[] = [];
  let slowReviews: Awaited<ReturnType<typeof startRecorder>>;
  let productpage: StartedServer;

  before(async () => {
    const details = await startRecorder(bookDetails(0));
    slowReviews = await startRecorder({ id: 0, podname: 'slow', version: 'v2', reviews: [] }, 200, 2000);
    stops.push(details.stop, slowReviews.stop);
    productpage = await startBookinfo(
      {
        ...bookinfoDefaults('productpage'),
        detailsAddress: [details.address],
        reviewsAddress: [slowReviews.address],
        reviewsTimeoutMs: 300,
        reviewsRetries: 1,
      },
      log,
    );
    stops.push(productpage.stop);
  });

  after(async () => {
    for (const stop of stops.reverse()) await stop();
  });

  it('two attempts, then the reviews error section; details unaffected', async () => {
    const res = await http('GET', `http://127.0.0.1:${productpage.address.port}/productpage`, { headers: { 'x-request-id': 'slow-1' } });
    assert.equal(res.status, 200);
    assert.match(res.text, /Sorry, product reviews are currently unavailable for this book\./);
    assert.match(res.text, /<dd class="author">William Shakespeare<\/dd>/);
    assert.equal(slowReviews.seen.length, 2, 'one attempt and one retry');
    for (const s of slowReviews.seen) assert.equal(s.headers['x-request-id'], 'slow-1', 'the retry carries the same request id');
  });
});
