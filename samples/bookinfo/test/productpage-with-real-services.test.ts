/**
 * productpage against details, reviews (v1, v2, v3) and ratings, each a real process started as a user
 * would start it; the page shows what each version promises, and a failing dependency shows its error section.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deadAddress, http, startService, type ServiceProcess } from './helpers';

const BLACK = /<span class="stars" data-stars="(\d)" data-color="black"[^>]*>/g;
const RED = /<span class="stars" data-stars="(\d)" data-color="red"[^>]*>/g;

function starCounts(html: string, re: RegExp): number[] {
  return [...html.matchAll(re)].map((m) => Number(m[1]));
}

describe('productpage with real details, reviews and ratings processes', () => {
  const procs: ServiceProcess[] = [];
  let ratings: ServiceProcess;
  const pages: Record<string, string> = {};

  before(async () => {
    const [r, details] = await Promise.all([startService('ratings', ['--service', 'ratings']), startService('details', ['--service', 'details'])]);
    ratings = r;
    procs.push(r, details);
    const [v1, v2, v3] = await Promise.all(
      ['v1', 'v2', 'v3'].map((v) => startService(`reviews-${v}`, ['--service', 'reviews', '--version', v, '--ratings-address', ratings.address])),
    );
    procs.push(v1, v2, v3);
    const deadReviews = await deadAddress();
    const started = await Promise.all(
      [
        ['v1', v1.address],
        ['v2', v2.address],
        ['v3', v3.address],
        ['noreviews', deadReviews],
      ].map(([key, reviews]) =>
        startService(`productpage-${key}`, [
          '--service', 'productpage',
          '--details-address', details.address,
          '--reviews-address', reviews,
          '--reviews-timeout', '2s',
          '--reviews-retries', '0',
        ]).then((p) => {
          pages[key] = `http://${p.address}`;
          return p;
        }),
      ),
    );
    procs.push(...started);
  });

  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    for (const p of procs) assert.ok(p.child.exitCode !== null || p.child.signalCode !== null, `${p.name} still running`);
  });

  it('reviews v2: black stars from ratings, details shown', async () => {
    const res = await http('GET', `${pages.v2}/productpage`);
    assert.equal(res.status, 200);
    assert.match(res.text, /The Comedy of Errors/);
    assert.match(res.text, /<dd class="author">William Shakespeare<\/dd>/);
    assert.deepEqual(starCounts(res.text, BLACK), [5, 4]);
    assert.deepEqual(starCounts(res.text, RED), []);
    assert.match(res.text, /<span class="version">v2<\/span>/);
  });

  it('reviews v3: red stars', async () => {
    const res = await http('GET', `${pages.v3}/productpage`);
    assert.equal(res.status, 200);
    assert.deepEqual(starCounts(res.text, RED), [5, 4]);
    assert.deepEqual(starCounts(res.text, BLACK), []);
  });

  it('reviews v1: reviews without stars, and ratings is not called', async () => {
    const before = ratings.requests().length;
    const res = await http('GET', `${pages.v1}/productpage`);
    assert.equal(res.status, 200);
    assert.match(res.text, /class="review"/);
    assert.doesNotMatch(res.text, /class="stars"/);
    assert.doesNotMatch(res.text, /rating-error/);
    assert.equal(ratings.requests().length, before);
  });

  it('the logged-in user and the trace ids arrive at ratings, two hops away', async () => {
    const login = await http('POST', `${pages.v2}/login`, {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'username=jason&passwd=any',
    });
    assert.equal(login.status, 302);
    const cookie = String(login.headers['set-cookie']).split(';')[0];
    assert.equal(cookie, 'user=jason');
    const res = await http('GET', `${pages.v2}/productpage`, {
      headers: { cookie, 'x-request-id': 'e2e-jason-1', 'x-b3-traceid': 'aaaabbbbccccdddd' },
    });
    assert.match(res.text, /Signed in as <b class="user-name">jason<\/b>/);
    const seen = await ratings.waitForRequest((r) => r.requestId === 'e2e-jason-1');
    assert.ok(seen, `ratings logged no request with x-request-id e2e-jason-1:\n${ratings.logs()}`);
    assert.equal(seen.endUser, 'jason');
    assert.equal(seen.b3TraceId, 'aaaabbbbccccdddd');
    assert.equal(seen.path, '/ratings/0');
    const out = await http('GET', `${pages.v2}/logout`, { headers: { cookie } });
    assert.equal(out.status, 302);
    assert.match(String(out.headers['set-cookie']), /^user=;.*Max-Age=0/);
  });

  it('a bad login is a 400, and the page still works', async () => {
    const bad = await http('POST', `${pages.v2}/login`, { body: 'username=%3Cscript%3E', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(bad.status, 400);
    assert.equal(JSON.parse(bad.text).code, 'MESH_ERR_BOOKINFO_LOGIN_INVALID');
    assert.equal((await http('GET', `${pages.v2}/productpage`)).status, 200);
  });

  it('/api/v1/products lists the book and /api/v1/products/0/reviews goes through to reviews', async () => {
    const list = await http('GET', `${pages.v2}/api/v1/products`);
    assert.equal(list.status, 200);
    assert.equal(JSON.parse(list.text)[0].title, 'The Comedy of Errors');
    const reviews = await http('GET', `${pages.v2}/api/v1/products/0/reviews`);
    assert.equal(reviews.status, 200);
    assert.equal(JSON.parse(reviews.text).version, 'v2');
    assert.equal((await http('GET', `${pages.v2}/api/v1/products/7`)).status, 404);
  });

  it('reviews unreachable: the page shows the reviews error section, details still shown', async () => {
    const res = await http('GET', `${pages.noreviews}/productpage`);
    assert.equal(res.status, 200);
    assert.match(res.text, /Sorry, product reviews are currently unavailable for this book\./);
    assert.match(res.text, /<dd class="author">William Shakespeare<\/dd>/);
  });

  it('ratings down: reviews v2 still answers and the page says ratings are unavailable', async () => {
    await ratings.stop();
    const res = await http('GET', `${pages.v2}/productpage`);
    assert.equal(res.status, 200);
    assert.equal(starCounts(res.text, BLACK).length, 0);
    assert.equal((res.text.match(/Ratings service is currently unavailable/g) ?? []).length, 2);
    assert.doesNotMatch(res.text, /Sorry, product reviews are currently unavailable/);
  });
});
