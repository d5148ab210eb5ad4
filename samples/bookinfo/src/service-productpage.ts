/**
 * productpage: the page a user sees. It calls details and reviews (in parallel, with the propagated
 * headers), shows an error section for whichever failed, and keeps the signed-in user in a `user` cookie
 * that it sends downstream as the `end-user` header (what routing rules such as "jason -> reviews v2" match).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Logger } from '@mesh/runtime';
import { parseProductId, PRODUCTS, type BookDetails } from './data-books';
import { errors } from './errors';
import { propagatedHeaders } from './headers-propagation';
import type { Upstream } from './http-client';
import { readBody, type Router } from './http-server';
import { renderIndexPage, renderProductPage } from './page-productpage';
import type { ReviewsBody } from './service-reviews';

export interface ProductPageOptions {
  details: Upstream;
  reviews: Upstream;
  log: Logger;
}

const USER_COOKIE = 'user';
const USER_NAME = /^[A-Za-z0-9._@-]{1,64}$/;

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

/** Headers for downstream calls: the propagated ones, a request id if none came in, and end-user from the login cookie. */
export function downstreamHeaders(incoming: IncomingHttpHeaders): { headers: OutgoingHttpHeaders; user: string | undefined } {
  const headers = propagatedHeaders(incoming);
  if (headers['x-request-id'] === undefined) headers['x-request-id'] = randomUUID();
  const user = cookieValue(incoming.cookie, USER_COOKIE);
  const valid = user !== undefined && USER_NAME.test(user) ? user : undefined;
  if (valid) headers['end-user'] = valid;
  return { headers, user: valid };
}

function productOr404(text: string, path: string): number {
  const id = parseProductId(text);
  if (id === undefined) throw errors.create('PRODUCT_ID_INVALID', { path, id: text });
  if (!PRODUCTS.some((p) => p.id === id)) throw errors.create('PRODUCT_NOT_FOUND', { id });
  return id;
}

export function addProductPageRoutes(router: Router, opts: ProductPageOptions): void {
  const fetchDetails = (id: number, headers: OutgoingHttpHeaders) => opts.details.getJson<BookDetails>(`/details/${id}`, headers);
  const fetchReviews = (id: number, headers: OutgoingHttpHeaders) => opts.reviews.getJson<ReviewsBody>(`/reviews/${id}`, headers);

  router.get('/', () => ({ status: 200, body: renderIndexPage() }));

  router.get('/productpage', async (req) => {
    const product = PRODUCTS[0];
    const { headers, user } = downstreamHeaders(req.raw.headers);
    const [details, reviews] = await Promise.allSettled([fetchDetails(product.id, headers), fetchReviews(product.id, headers)]);
    const requestId = headers['x-request-id'];
    if (details.status === 'rejected') opts.log.warn('details unavailable', { requestId, error: details.reason });
    if (reviews.status === 'rejected') opts.log.warn('reviews unavailable', { requestId, error: reviews.reason });
    const html = renderProductPage({
      product,
      user,
      details: details.status === 'fulfilled' ? details.value.body : undefined,
      reviews: reviews.status === 'fulfilled' ? reviews.value.body : undefined,
    });
    return { status: 200, body: html };
  });

  router.post('/login', async (req) => {
    const form = new URLSearchParams(await readBody(req.raw));
    const user = form.get('username') ?? '';
    if (!USER_NAME.test(user)) {
      throw errors.create('LOGIN_INVALID', { reason: 'username must be 1-64 characters of letters, digits, ".", "_", "@" or "-"' });
    }
    return {
      status: 302,
      headers: { location: '/productpage', 'set-cookie': `${USER_COOKIE}=${encodeURIComponent(user)}; Path=/; HttpOnly; SameSite=Lax` },
      body: '',
    };
  });

  router.get('/logout', () => ({
    status: 302,
    headers: { location: '/productpage', 'set-cookie': `${USER_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax` },
    body: '',
  }));

  router.get('/api/v1/products', () => ({
    status: 200,
    body: PRODUCTS.map((p) => ({ id: p.id, title: p.title, descriptionHtml: p.descriptionHtml })),
  }));

  router.get('/api/v1/products/', async (req) => {
    const [idText, sub, ...more] = req.rest.split('/');
    const id = productOr404(idText, req.path);
    const { headers } = downstreamHeaders(req.raw.headers);
    if (sub === undefined && more.length === 0) return { status: 200, body: (await fetchDetails(id, headers)).body };
    if (sub === 'reviews' && more.length === 0) return { status: 200, body: (await fetchReviews(id, headers)).body };
    throw errors.create('ROUTE_NOT_FOUND', { method: req.method, path: req.path });
  });
}
