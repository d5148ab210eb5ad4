/** details: GET /details/<id> returns the book's bibliographic details as JSON. */
import { bookDetails, parseProductId } from './data-books';
import { errors } from './errors';
import type { Router } from './http-server';

export function addDetailsRoutes(router: Router): void {
  router.get('/details/', (req) => {
    const id = parseProductId(req.rest);
    if (id === undefined) throw errors.create('PRODUCT_ID_INVALID', { path: req.path, id: req.rest });
    return { status: 200, body: bookDetails(id) };
  });
}
