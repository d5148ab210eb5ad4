import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '@mesh/runtime';
import { bookinfoDefaults, startBookinfo } from '../src/bookinfo';
import type { StartedServer } from '../src/http-server';
import { http, startRecorder } from './helpers';

const log = createLogger('bookinfo-test', 'silent');
const url = (s: StartedServer, path: string) => `http://${s.address.host}:${s.address.port}${path}`;

describe('each Bookinfo service answers over real HTTP', () => {
  const started: StartedServer[] = [];
  const stops: (() => Promise<void>)[] = [];
  let details: StartedServer;
  let ratings: StartedServer;
  let reviewsV1: StartedServer;
  let ratingsSpy: Awaited<ReturnType<typeof startRecorder>>;

  before(async () => {
    details = await startBookinfo(bookinfoDefaults('details'), log);
    ratings = await startBookinfo(bookinfoDefaults('ratings'), log);
    ratingsSpy = await startRecorder({ id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 } });
    stops.push(ratingsSpy.stop);
    reviewsV1 = await startBookinfo({ ...bookinfoDefaults('reviews'), version: 'v1', ratingsAddress: [ratingsSpy.address] }, log);
    started.push(details, ratings, reviewsV1);
  });

  after(async () => {
    for (const s of started) await s.stop();
    for (const stop of stops) await stop();
  });

  it('details returns the book as JSON', async () => {
    const res = await http('GET', url(details, '/details/0'));
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /application\/json/);
    const body = JSON.parse(res.text);
    assert.equal(body.id, 0);
    assert.equal(body.author, 'William Shakespeare');
    assert.equal(body['ISBN-10'], '1234567890');
  });

  it('a bad product id is a 400 naming the path, not a crash', async () => {
    const res = await http('GET', url(details, '/details/abc'));
    assert.equal(res.status, 400);
    const body = JSON.parse(res.text);
    assert.equal(body.code, 'MESH_ERR_BOOKINFO_PRODUCT_ID_INVALID');
    assert.match(body.error, /\/details\/abc/);
    const again = await http('GET', url(details, '/details/1'));
    assert.equal(again.status, 200, 'the service still answers after bad input');
  });

  it('an unknown path is a 404', async () => {
    const res = await http('GET', url(ratings, '/nope'));
    assert.equal(res.status, 404);
    assert.equal(JSON.parse(res.text).code, 'MESH_ERR_BOOKINFO_ROUTE_NOT_FOUND');
  });

  it('ratings returns stars per reviewer', async () => {
    const res = await http('GET', url(ratings, '/ratings/0'));
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.text), { id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 } });
  });

  it('reviews v1 has no ratings and never calls ratings', async () => {
    const res = await http('GET', url(reviewsV1, '/reviews/0'));
    assert.equal(res.status, 200);
    const body = JSON.parse(res.text);
    assert.equal(body.version, 'v1');
    assert.equal(body.reviews.length, 2);
    for (const r of body.reviews) assert.equal(r.rating, undefined);
    assert.equal(ratingsSpy.seen.length, 0);
  });

  it('/health names the service, its version and its service account', async () => {
    const res = await http('GET', url(reviewsV1, '/health'));
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.text), {
      status: 'ok',
      service: 'reviews',
      version: 'v1',
      serviceAccount: 'bookinfo-reviews',
      namespace: 'default',
    });
  });
});
