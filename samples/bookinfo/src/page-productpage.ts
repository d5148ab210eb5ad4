/** The HTML of productpage: the book, its details and its reviews, or an error section for each part that failed. */
import type { BookDetails, Product } from './data-books';
import type { Rating, ReviewsBody } from './service-reviews';

export const DETAILS_UNAVAILABLE = 'Sorry, product details are currently unavailable for this book.';
export const REVIEWS_UNAVAILABLE = 'Sorry, product reviews are currently unavailable for this book.';

export interface PageModel {
  product: Product;
  user: string | undefined;
  details: BookDetails | undefined;
  reviews: ReviewsBody | undefined;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function stars(rating: Rating): string {
  if ('error' in rating) return `<p class="rating-error" style="color: red">${escapeHtml(rating.error)}</p>`;
  const n = Math.max(0, Math.min(5, Math.round(rating.stars)));
  return (
    `<span class="stars" data-stars="${n}" data-color="${rating.color}" style="color: ${rating.color}">` +
    `${'\u2605'.repeat(n)}${'\u2606'.repeat(5 - n)}</span>`
  );
}

function userBar(user: string | undefined): string {
  if (user) return `<div class="user">Signed in as <b class="user-name">${escapeHtml(user)}</b> <a href="/logout">sign out</a></div>`;
  return (
    '<form class="login" method="post" action="/login">' +
    '<input name="username" placeholder="User name"> <input name="passwd" type="password" placeholder="Password"> ' +
    '<button type="submit">Sign in</button></form>'
  );
}

function detailsSection(details: BookDetails | undefined): string {
  if (!details) return `<section class="details error"><h4>Error fetching product details!</h4><p>${DETAILS_UNAVAILABLE}</p></section>`;
  const rows: [string, string | number][] = [
    ['Type', details.type],
    ['Pages', details.pages],
    ['Publisher', details.publisher],
    ['Language', details.language],
    ['ISBN-10', details['ISBN-10']],
    ['ISBN-13', details['ISBN-13']],
  ];
  return (
    '<section class="details"><h4>Book Details</h4><dl>' +
    `<dt>Author</dt><dd class="author">${escapeHtml(details.author)}</dd><dt>Year</dt><dd>${details.year}</dd>` +
    rows.map(([k, v]) => `<dt>${k}</dt><dd>${escapeHtml(String(v))}</dd>`).join('') +
    '</dl></section>'
  );
}

function reviewsSection(reviews: ReviewsBody | undefined): string {
  if (!reviews) return `<section class="reviews error"><h4>Error fetching product reviews!</h4><p>${REVIEWS_UNAVAILABLE}</p></section>`;
  const items = reviews.reviews
    .map(
      (r) =>
        `<blockquote class="review"><p>${escapeHtml(r.text)}</p><small>${escapeHtml(r.reviewer)}</small>` +
        `${r.rating ? stars(r.rating) : ''}</blockquote>`,
    )
    .join('');
  return (
    `<section class="reviews"><h4>Book Reviews</h4>${items}` +
    `<p class="served-by">Reviews served by: <span class="podname">${escapeHtml(reviews.podname)}</span> ` +
    `<span class="version">${escapeHtml(reviews.version)}</span></p></section>`
  );
}

export function renderProductPage(model: PageModel): string {
  return [
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Simple Bookstore App</title>',
    '<style>body{font-family:sans-serif;margin:2em}.stars{font-size:1.3em}section{margin:1em 0}</style></head><body>',
    `<header><b>BookInfo Sample</b> ${userBar(model.user)}</header>`,
    `<h3 class="title">${escapeHtml(model.product.title)}</h3><p>${model.product.descriptionHtml}</p>`,
    detailsSection(model.details),
    reviewsSection(model.reviews),
    '</body></html>',
  ].join('\n');
}

export function renderIndexPage(): string {
  return (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Simple Bookstore App</title></head><body>' +
    '<h3>Hello! This is a simple bookstore application consisting of three services, plus ratings.</h3>' +
    '<p><a href="/productpage?u=normal">Normal user</a> | <a href="/productpage?u=test">Test user</a></p></body></html>'
  );
}
