/**
 * reviews: GET /reviews/<id> returns the book's reviews as JSON. The version decides the behaviour, as in
 * Istio's sample: v1 shows no ratings and never calls ratings; v2 (black stars) and v3 (red stars) call
 * ratings and attach each reviewer's stars, or an error entry when ratings fails.
 */
import type { Logger } from '@mesh/runtime';
import { parseProductId, REVIEWS } from './data-books';
import { errors } from './errors';
import { propagatedHeaders } from './headers-propagation';
import type { Upstream } from './http-client';
import type { Router } from './http-server';
import type { ReviewsVersion } from './flags';
import type { RatingsBody } from './service-ratings';

export type Rating = { stars: number; color: 'black' | 'red' } | { error: string };

export interface ReviewsBody {
  id: number;
  podname: string;
  version: string;
  reviews: { reviewer: string; text: string; rating?: Rating }[];
}

export const RATINGS_UNAVAILABLE = 'Ratings service is currently unavailable';

const STAR_COLOR: Record<ReviewsVersion, 'black' | 'red' | undefined> = { v1: undefined, v2: 'black', v3: 'red' };

export interface ReviewsOptions {
  version: ReviewsVersion;
  podname: string;
  ratings: Upstream;
  log: Logger;
}

export function addReviewsRoutes(router: Router, opts: ReviewsOptions): void {
  const color = STAR_COLOR[opts.version];
  router.get('/reviews/', async (req) => {
    const id = parseProductId(req.rest);
    if (id === undefined) throw errors.create('PRODUCT_ID_INVALID', { path: req.path, id: req.rest });
    const body: ReviewsBody = { id, podname: opts.podname, version: opts.version, reviews: REVIEWS.map((r) => ({ ...r })) };
    if (color) {
      let ratings: Record<string, number> | undefined;
      try {
        ratings = (await opts.ratings.getJson<RatingsBody>(`/ratings/${id}`, propagatedHeaders(req.raw.headers))).body.ratings;
      } catch (err) {
        opts.log.warn('ratings unavailable', { productId: id, requestId: req.raw.headers['x-request-id'], error: err });
      }
      for (const review of body.reviews) {
        const stars = ratings?.[review.reviewer];
        review.rating = typeof stars === 'number' ? { stars, color } : { error: RATINGS_UNAVAILABLE };
      }
    }
    return { status: 200, body };
  });
}
