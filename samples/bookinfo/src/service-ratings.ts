/** ratings: GET /ratings/<id> returns the stars each reviewer gave, as JSON. */
import { parseProductId, RATINGS } from './data-books';
import { errors } from './errors';
import type { Router } from './http-server';

export interface RatingsBody {
  id: number;
  ratings: Record<string, number>;
}

export function addRatingsRoutes(router: Router): void {
  router.get('/ratings/', (req) => {
    const id = parseProductId(req.rest);
    if (id === undefined) throw errors.create('PRODUCT_ID_INVALID', { path: req.path, id: req.rest });
    const body: RatingsBody = { id, ratings: { ...RATINGS } };
    return { status: 200, body };
  });
}
