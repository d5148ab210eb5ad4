import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '@mesh/runtime';
import { bookinfoDefaults, startBookinfo } from '../src/bookinfo';
import type { StartedServer } from '../src/http-server';
import { http, startRecorder } from './helpers';

const log = createLogger('bookinfo-test', 'silent');

const TRACE = {
  'x-request-id': 'req-7f3c',
  'x-b3-traceid': '80f198ee56343ba864fe8b2a57d3eff7',
  'x-b3-spanid': 'e457b5a2e4d86bd1',
  'x-b3-parentspanid': '05e3ac9a4f6e3b90',
  'x-b3-sampled': '1',
  traceparent: '00-80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-01',
  tracestate: 'mesh=1',
  'user-agent': 'bookinfo-test/1.0',
};

describe('tracing and routing headers reach the callee', () => {
  const stops: (() => Promise<void>)[] = [];
  let details: Awaited<ReturnType<typeof startRecorder>>;
  let reviews: Awaited<ReturnType<typeof startRecorder>>;
  let ratings: Awaited<ReturnType<typeof startRecorder>>;
  let productpage: StartedServer;
  let reviewsV2: StartedServer;

  before(async () => {
    details = await startRecorder({ id: 0, author: 'A', year: 1, type: 't', pages: 1, publisher: 'p', language: 'l', 'ISBN-10': 'x', 'ISBN-13': 'y' });
    reviews = await startRecorder({ id: 0, podname: 'spy', version: 'v1', reviews: [] });
    ratings = await startRecorder({ id: 0, ratings: { Reviewer1: 3, Reviewer2: 1 } });
    stops.push(details.stop, reviews.stop, ratings.stop);
    productpage = await startBookinfo(
      { ...bookinfoDefaults('productpage'), detailsAddress: [details.address], reviewsAddress: [reviews.address] },
      log,
    );
    reviewsV2 = await startBookinfo({ ...bookinfoDefaults('reviews'), version: 'v2', ratingsAddress: [ratings.address] }, log);
    stops.push(productpage.stop, reviewsV2.stop);
  });

  after(async () => {
    for (const stop of stops.reverse()) await stop();
  });

  it('productpage copies trace headers to details and reviews and sends the cookie user as end-user', async () => {
    const res = await http('GET', `http://127.0.0.1:${productpage.address.port}/productpage`, {
      headers: { ...TRACE, cookie: 'theme=dark; user=jason', 'x-not-propagated': 'secret' },
    });
    assert.equal(res.status, 200);
    for (const callee of [details, reviews]) {
      assert.equal(callee.seen.length, 1);
      const h = callee.seen[0].headers;
      for (const [name, value] of Object.entries(TRACE)) assert.equal(h[name], value, `${name} at ${callee.seen[0].url}`);
      assert.equal(h['end-user'], 'jason');
      assert.equal(h['x-not-propagated'], undefined);
      assert.equal(h.cookie, undefined, 'the cookie itself stays at productpage');
    }
    assert.match(res.text, /Signed in as <b class="user-name">jason<\/b>/);
  });

  it('productpage makes up an x-request-id when none came in, the same for both callees', async () => {
    const res = await http('GET', `http://127.0.0.1:${productpage.address.port}/productpage`);
    assert.equal(res.status, 200);
    const lastDetails = details.seen[details.seen.length - 1];
    const a = lastDetails.headers['x-request-id'];
    const b = reviews.seen[reviews.seen.length - 1].headers['x-request-id'];
    assert.ok(typeof a === 'string' && a.length > 0);
    assert.equal(a, b);
    assert.equal(lastDetails.headers['end-user'], undefined, 'no login, no end-user');
  });

  it('reviews v2 copies the headers it received to ratings', async () => {
    const res = await http('GET', `http://127.0.0.1:${reviewsV2.address.port}/reviews/0`, { headers: { ...TRACE, 'end-user': 'jason' } });
    assert.equal(res.status, 200);
    assert.equal(ratings.seen.length, 1);
    assert.equal(ratings.seen[0].url, '/ratings/0');
    const h = ratings.seen[0].headers;
    for (const [name, value] of Object.entries(TRACE)) assert.equal(h[name], value, name);
    assert.equal(h['end-user'], 'jason');
    const body = JSON.parse(res.text);
    assert.deepEqual(body.reviews[0].rating, { stars: 3, color: 'black' });
  });
});
