// The Bookinfo-shaped sample's pure parts: which headers a service passes on to the next hop (trace
// context and `end-user`, as Bookinfo's services do), where the other services are, what details,
// ratings and reviews answer, and the product page (JSON model and HTML). The four programs
// (bookinfo-{productpage,details,reviews,ratings}.ts) only add sockets and timers around these.

/**
 * Headers passed from an incoming request to the calls it makes: request id, W3C trace context,
 * B3 (single and multi), OpenTracing and baggage, the user agent, and the signed-in user.
 */
export const FORWARDED_HEADERS: readonly string[] = [
  'x-request-id',
  'traceparent',
  'tracestate',
  'b3',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
  'x-ot-span-context',
  'baggage',
  'user-agent',
  'end-user',
];

type IncomingHeaders = Readonly<Record<string, string | string[] | undefined>>;

/**
 * The headers for an outgoing call made while serving `incoming`. `endUser`, when given (the product
 * page's signed-in user), replaces any `end-user` the request carried.
 */
export function forwardedHeaders(incoming: IncomingHeaders, endUser?: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of FORWARDED_HEADERS) {
    const v = incoming[name];
    if (v === undefined) continue;
    out[name] = Array.isArray(v) ? v.join(', ') : v;
  }
  if (endUser !== undefined && endUser !== '') out['end-user'] = endUser;
  return out;
}

export const BOOKINFO_PORT = 9080;

/**
 * Base URL of another Bookinfo service: `<NAME>_HOSTNAME` (a name, an IP, or `host:port`), else the
 * service name, with `SERVICES_DOMAIN` appended to a bare name when set; port 9080 unless given.
 */
export function serviceBaseUrl(service: string, env: Readonly<Record<string, string | undefined>>): string {
  const configured = env[`${service.toUpperCase()}_HOSTNAME`];
  let host = configured && configured !== '' ? configured : service;
  const domain = env.SERVICES_DOMAIN;
  const isAddress = /^[0-9.]+(:\d+)?$/.test(host) || host.startsWith('[');
  if (domain && !isAddress && !host.includes('.')) host = `${host}.${domain}`;
  const hasPort = host.startsWith('[') ? /\]:\d+$/.test(host) : /:\d+$/.test(host);
  return `http://${hasPort ? host : `${host}:${BOOKINFO_PORT}`}`;
}

/** The product id in `/<prefix>/<id>`, or undefined when the path is not that shape. */
export function productIdFrom(pathname: string, prefix: string): number | undefined {
  const m = new RegExp(`^/${prefix}/(\\d{1,9})/?$`).exec(pathname);
  return m ? Number(m[1]) : undefined;
}

// ------------------------------------------------------------------------------------------------
// details

export interface DetailsBody {
  id: number;
  title: string;
  author: string;
  year: number;
  type: string;
  pages: number;
  publisher: string;
  language: string;
  'ISBN-10': string;
  'ISBN-13': string;
}

/** One book for every id: the sample has a single product. */
export function detailsFor(id: number): DetailsBody {
  return {
    id,
    title: 'The Comedy of Errors',
    author: 'William Shakespeare',
    year: 1595,
    type: 'paperback',
    pages: 200,
    publisher: 'Lab Press',
    language: 'English',
    'ISBN-10': '0000000000',
    'ISBN-13': '000-0000000000',
  };
}

// ------------------------------------------------------------------------------------------------
// ratings

export interface RatingsBody {
  id: number;
  ratings: Record<string, number>;
}

export function ratingsFor(id: number): RatingsBody {
  return { id, ratings: { Reviewer1: 5, Reviewer2: 4 } };
}

/**
 * How a ratings pod misbehaves, from its env: `SERVICE_VERSION=v-unavailable` answers 503 to every
 * request; `FAIL_FIRST=<n>` answers `FAIL_STATUS` (default 500) to its first n requests and then
 * recovers (a pod that is unhealthy for a while, for retries and outlier ejection); `DELAY_MS=<ms>`
 * delays every answer.
 */
export interface RatingsBehaviour {
  unavailable: boolean;
  failFirst: number;
  failStatus: number;
  delayMs: number;
}

export function ratingsBehaviour(env: Readonly<Record<string, string | undefined>>): RatingsBehaviour {
  const int = (raw: string | undefined, dflt: number, min: number, max: number): number => {
    const n = Number(raw);
    return raw !== undefined && raw !== '' && Number.isInteger(n) && n >= min && n <= max ? n : dflt;
  };
  return {
    unavailable: env.SERVICE_VERSION === 'v-unavailable',
    failFirst: int(env.FAIL_FIRST, 0, 0, 1_000_000),
    failStatus: int(env.FAIL_STATUS, 500, 400, 599),
    delayMs: int(env.DELAY_MS, 0, 0, 60_000),
  };
}

export interface Plan<T> {
  status: number;
  body: T | { error: string };
  delayMs: number;
}

/** The answer to the `n`-th (1-based) `/ratings/<id>` request of this pod. */
export function planRatings(b: RatingsBehaviour, n: number, id: number): Plan<RatingsBody> {
  if (b.unavailable) return { status: 503, body: { error: 'service unavailable (v-unavailable)' }, delayMs: b.delayMs };
  if (n <= b.failFirst) return { status: b.failStatus, body: { error: `failing request ${n} of the first ${b.failFirst}` }, delayMs: b.delayMs };
  return { status: 200, body: ratingsFor(id), delayMs: b.delayMs };
}

// ------------------------------------------------------------------------------------------------
// reviews

export type ReviewsVersion = 'v1' | 'v2' | 'v3';
export type StarColor = 'black' | 'red';

/** `VERSION` env, else the pod's `version` label; anything else is v1 (no ratings). */
export function reviewsVersion(env: Readonly<Record<string, string | undefined>>, labels: Readonly<Record<string, string>>): ReviewsVersion {
  const v = env.VERSION && env.VERSION !== '' ? env.VERSION : labels.version;
  return v === 'v2' || v === 'v3' ? v : 'v1';
}

export function starColor(v: ReviewsVersion): StarColor | undefined {
  return v === 'v2' ? 'black' : v === 'v3' ? 'red' : undefined;
}

export const RATINGS_UNAVAILABLE = 'Ratings service is currently unavailable';

/** What reviews learned from ratings: v1 never asks. */
export type RatingsOutcome = { kind: 'not-used' } | { kind: 'ok'; ratings: Record<string, number> } | { kind: 'unavailable'; why: string };

export interface Review {
  reviewer: string;
  text: string;
  rating?: { stars: number; color: StarColor } | { error: string };
}

export interface ReviewsBody {
  id: number;
  version: ReviewsVersion;
  podname: string;
  /** `not-used` (v1), `available`, or `unavailable` (the ratings call failed or timed out). */
  ratings: 'not-used' | 'available' | 'unavailable';
  reviews: Review[];
}

const REVIEW_TEXTS: readonly [string, string][] = [
  ['Reviewer1', 'Two pairs of twins and one long day of mistaken identities: fast, silly and still funny.'],
  ['Reviewer2', 'The shortest of the comedies, and it never stops moving; the ending ties every knot.'],
];

export function reviewsBody(id: number, version: ReviewsVersion, podname: string, outcome: RatingsOutcome): ReviewsBody {
  const color = starColor(version);
  const reviews = REVIEW_TEXTS.map(([reviewer, text]): Review => {
    if (outcome.kind === 'not-used' || color === undefined) return { reviewer, text };
    if (outcome.kind === 'unavailable') return { reviewer, text, rating: { error: RATINGS_UNAVAILABLE } };
    const stars = outcome.ratings[reviewer];
    return stars === undefined ? { reviewer, text } : { reviewer, text, rating: { stars, color } };
  });
  const ratings = outcome.kind === 'not-used' || color === undefined ? 'not-used' : outcome.kind === 'ok' ? 'available' : 'unavailable';
  return { id, version, podname, ratings, reviews };
}

/** A ratings answer as reviews reads it: 200 with a `ratings` object, else unavailable. */
export function ratingsOutcome(status: number | undefined, body: unknown, why: string): RatingsOutcome {
  if (status === 200 && typeof body === 'object' && body !== null) {
    const r = (body as { ratings?: unknown }).ratings;
    if (typeof r === 'object' && r !== null) {
      const ratings: Record<string, number> = {};
      for (const [k, v] of Object.entries(r)) if (typeof v === 'number') ratings[k] = v;
      return { kind: 'ok', ratings };
    }
  }
  return { kind: 'unavailable', why: status === undefined ? why : `status ${status}` };
}

// ------------------------------------------------------------------------------------------------
// productpage

export const REVIEWS_ERROR = 'Error fetching product reviews';
export const DETAILS_ERROR = 'Error fetching product details';

/** One call's result as the product page sees it. */
export type CallResult = { kind: 'ok'; status: number; body: unknown; ms: number } | { kind: 'failed'; reason: string; status?: number; ms: number };

export interface ProductPage {
  user: string | null;
  productId: number;
  details: DetailsBody | null;
  detailsError?: string;
  reviews: ReviewsBody | null;
  reviewsError?: string;
  /** Shortcuts for tests and the demo. */
  reviewsVersion: ReviewsVersion | null;
  reviewsPod: string | null;
  ratings: ReviewsBody['ratings'] | null;
  stars: StarColor | null;
  /** Calls made to reviews (1, or 2 after a retry) and why each failed. */
  reviewsAttempts: number;
  reviewsFailures: string[];
}

function isReviewsBody(b: unknown): b is ReviewsBody {
  if (typeof b !== 'object' || b === null) return false;
  const r = b as Partial<ReviewsBody>;
  return (r.version === 'v1' || r.version === 'v2' || r.version === 'v3') && Array.isArray(r.reviews) && typeof r.ratings === 'string';
}

function isDetailsBody(b: unknown): b is DetailsBody {
  return typeof b === 'object' && b !== null && typeof (b as Partial<DetailsBody>).title === 'string';
}

function failure(r: CallResult): string {
  if (r.kind === 'failed') return r.status !== undefined ? `${r.reason} (status ${r.status})` : r.reason;
  return `status ${r.status}`;
}

/** A reviews answer the page can use: 200 and the reviews shape. */
export function reviewsUsable(r: CallResult): boolean {
  return r.kind === 'ok' && r.status === 200 && isReviewsBody(r.body);
}

/** The page model from the details call and the reviews attempts (the last one decides). */
export function productPage(user: string | undefined, productId: number, details: CallResult, reviewsAttempts: readonly CallResult[]): ProductPage {
  const lastReviews = reviewsAttempts[reviewsAttempts.length - 1];
  const reviews = lastReviews && reviewsUsable(lastReviews) && lastReviews.kind === 'ok' ? (lastReviews.body as ReviewsBody) : null;
  const det = details.kind === 'ok' && details.status === 200 && isDetailsBody(details.body) ? details.body : null;
  return {
    user: user && user !== '' ? user : null,
    productId,
    details: det,
    ...(det ? {} : { detailsError: DETAILS_ERROR }),
    reviews,
    ...(reviews ? {} : { reviewsError: REVIEWS_ERROR }),
    reviewsVersion: reviews?.version ?? null,
    reviewsPod: reviews?.podname ?? null,
    ratings: reviews?.ratings ?? null,
    stars: reviews ? starColor(reviews.version) ?? null : null,
    reviewsAttempts: reviewsAttempts.length,
    reviewsFailures: reviewsAttempts.filter((r) => !reviewsUsable(r)).map(failure),
  };
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function starsHtml(stars: number, color: StarColor): string {
  const full = Math.max(0, Math.min(5, Math.round(stars)));
  return `<span class="stars" style="color:${color}">${'★'.repeat(full)}${'☆'.repeat(5 - full)}</span>`;
}

/** The HTML product page: details, the reviews (with stars when rated), and who served them. */
export function renderProductPage(p: ProductPage): string {
  const e = escapeHtml;
  const details = p.details
    ? `<dl class="details">${[
        ['Author', p.details.author],
        ['Year', String(p.details.year)],
        ['Type', p.details.type],
        ['Pages', String(p.details.pages)],
        ['Publisher', p.details.publisher],
        ['Language', p.details.language],
        ['ISBN-10', p.details['ISBN-10']],
        ['ISBN-13', p.details['ISBN-13']],
      ].map(([k, v]) => `<dt>${e(k!)}</dt><dd>${e(v!)}</dd>`).join('')}</dl>`
    : `<p class="error">${e(p.detailsError ?? DETAILS_ERROR)}</p>`;
  let reviews: string;
  if (!p.reviews) {
    reviews = `<p class="error" data-reviews="error">${e(p.reviewsError ?? REVIEWS_ERROR)}</p>`;
  } else {
    const items = p.reviews.reviews.map((r) => {
      let rating = '';
      if (r.rating && 'error' in r.rating) rating = `<p class="error">${e(r.rating.error)}</p>`;
      else if (r.rating) rating = starsHtml(r.rating.stars, r.rating.color);
      return `<blockquote><p>${e(r.text)}</p><small>${e(r.reviewer)}</small>${rating}</blockquote>`;
    }).join('');
    const ratingsLine = p.reviews.ratings === 'not-used' ? 'no ratings (v1 does not call ratings)' : p.reviews.ratings === 'available' ? `ratings available (${p.stars} stars)` : 'ratings unavailable';
    reviews = `${items}<p class="served" data-reviews-version="${e(p.reviews.version)}" data-ratings="${e(p.reviews.ratings)}">Reviews served by: ${e(p.reviews.podname)} (reviews-${e(p.reviews.version)}); ${e(ratingsLine)}</p>`;
  }
  const title = p.details?.title ?? 'Bookinfo';
  return [
    '<!DOCTYPE html>',
    `<html><head><meta charset="utf-8"><title>Simple Bookstore App</title></head><body>`,
    `<header>${p.user ? `Signed in as ${e(p.user)}` : 'Not signed in'}</header>`,
    `<h1>${e(title)}</h1>`,
    `<section><h2>Book Details</h2>${details}</section>`,
    `<section><h2>Book Reviews</h2>${reviews}</section>`,
    '</body></html>',
    '',
  ].join('\n');
}
