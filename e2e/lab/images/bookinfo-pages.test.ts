// The Bookinfo sample's pure parts (header forwarding, service addresses, ratings faults, reviews by
// version, the product page model and HTML) as tables, and the four programs together on loopback
// (ephemeral ports): v1/v2/v3 pages, ratings down, reviews too slow (3 s-style timeout + one retry).
// No root needed.
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveImage } from './catalogue.ts';
import {
  forwardedHeaders,
  planRatings,
  productIdFrom,
  productPage,
  RATINGS_UNAVAILABLE,
  ratingsBehaviour,
  ratingsOutcome,
  renderProductPage,
  REVIEWS_ERROR,
  reviewsBody,
  reviewsVersion,
  serviceBaseUrl,
  type CallResult,
  type ProductPage,
} from './bookinfo-pages.ts';

describe('forwardedHeaders', () => {
  it.each([
    ['trace context and request id pass, other headers do not', { 'x-request-id': 'r1', traceparent: '00-aa-bb-01', tracestate: 'k=v', cookie: 'c', host: 'h', 'x-other': '1' }, undefined, { 'x-request-id': 'r1', traceparent: '00-aa-bb-01', tracestate: 'k=v' }],
    ['B3 multi and single, baggage, OpenTracing', { b3: '1-2-1', 'x-b3-traceid': 't', 'x-b3-spanid': 's', 'x-b3-parentspanid': 'p', 'x-b3-sampled': '1', 'x-b3-flags': '0', baggage: 'a=b', 'x-ot-span-context': 'o' }, undefined, { b3: '1-2-1', 'x-b3-traceid': 't', 'x-b3-spanid': 's', 'x-b3-parentspanid': 'p', 'x-b3-sampled': '1', 'x-b3-flags': '0', baggage: 'a=b', 'x-ot-span-context': 'o' }],
    ['the signed-in user becomes end-user', { 'user-agent': 'curl' }, 'jason', { 'user-agent': 'curl', 'end-user': 'jason' }],
    ['an incoming end-user is passed on (reviews → ratings)', { 'end-user': 'jason' }, undefined, { 'end-user': 'jason' }],
    ['the page user replaces an incoming end-user', { 'end-user': 'mallory' }, 'jason', { 'end-user': 'jason' }],
    ['an empty user adds nothing', {}, '', {}],
    ['repeated values are joined', { baggage: ['a=1', 'b=2'] }, undefined, { baggage: 'a=1, b=2' }],
  ] as [string, Record<string, string | string[]>, string | undefined, Record<string, string>][])('%s', (_name, incoming, user, want) => {
    expect(forwardedHeaders(incoming, user)).toEqual(want);
  });
});

describe('serviceBaseUrl', () => {
  it.each([
    ['details', {}, 'http://details:9080'],
    ['details', { SERVICES_DOMAIN: 'bookinfo.svc.cluster.local' }, 'http://details.bookinfo.svc.cluster.local:9080'],
    ['reviews', { REVIEWS_HOSTNAME: '10.96.0.42' }, 'http://10.96.0.42:9080'],
    ['reviews', { REVIEWS_HOSTNAME: '10.96.0.42', SERVICES_DOMAIN: 'x' }, 'http://10.96.0.42:9080'],
    ['ratings', { RATINGS_HOSTNAME: '127.0.0.1:4711' }, 'http://127.0.0.1:4711'],
    ['ratings', { RATINGS_HOSTNAME: 'ratings.other' }, 'http://ratings.other:9080'],
    ['ratings', { RATINGS_HOSTNAME: '[fd00::1]:80' }, 'http://[fd00::1]:80'],
    ['ratings', { RATINGS_HOSTNAME: '' }, 'http://ratings:9080'],
  ] as const)('%s with %j → %s', (svc, env, want) => {
    expect(serviceBaseUrl(svc, env)).toBe(want);
  });
});

describe('productIdFrom', () => {
  it.each([
    ['/reviews/0', 0],
    ['/reviews/12/', 12],
    ['/reviews/x', undefined],
    ['/reviews', undefined],
    ['/ratings/0', undefined],
  ] as const)('%s → %s', (path, want) => {
    expect(productIdFrom(path, 'reviews')).toBe(want);
  });
});

describe('ratings faults', () => {
  it('healthy by default: 200 with both reviewers', () => {
    const b = ratingsBehaviour({});
    expect(b).toEqual({ unavailable: false, failFirst: 0, failStatus: 500, delayMs: 0 });
    expect(planRatings(b, 1, 0)).toEqual({ status: 200, body: { id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 } }, delayMs: 0 });
  });
  it('FAIL_FIRST fails the first n requests with FAIL_STATUS, then recovers', () => {
    const b = ratingsBehaviour({ FAIL_FIRST: '2', FAIL_STATUS: '503' });
    expect([1, 2, 3, 4].map((n) => planRatings(b, n, 0).status)).toEqual([503, 503, 200, 200]);
  });
  it('v-unavailable always answers 503; DELAY_MS delays every answer', () => {
    const b = ratingsBehaviour({ SERVICE_VERSION: 'v-unavailable', DELAY_MS: '250' });
    expect([1, 100].map((n) => planRatings(b, n, 0))).toMatchObject([{ status: 503, delayMs: 250 }, { status: 503, delayMs: 250 }]);
  });
  it.each([['-1'], ['x'], ['1.5'], ['']])('a malformed FAIL_FIRST %j means none', (v) => {
    expect(ratingsBehaviour({ FAIL_FIRST: v }).failFirst).toBe(0);
  });
  it('FAIL_STATUS outside 400–599 falls back to 500', () => {
    expect(ratingsBehaviour({ FAIL_STATUS: '200' }).failStatus).toBe(500);
  });
});

describe('reviews', () => {
  it.each([
    [{ VERSION: 'v2' }, { version: 'v3' }, 'v2'],
    [{}, { version: 'v3' }, 'v3'],
    [{ VERSION: '' }, { version: 'v2' }, 'v2'],
    [{}, {}, 'v1'],
    [{}, { version: 'v9' }, 'v1'],
  ] as const)('VERSION %j, labels %j → %s', (env, labels, want) => {
    expect(reviewsVersion(env, labels)).toBe(want);
  });

  it('v1 has no ratings at all', () => {
    const b = reviewsBody(0, 'v1', 'reviews-v1-abc', { kind: 'not-used' });
    expect(b.ratings).toBe('not-used');
    expect(b.reviews.every((r) => r.rating === undefined)).toBe(true);
  });
  it('v2 shows black stars, v3 red stars, from the ratings answer', () => {
    const ok = ratingsOutcome(200, { id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 } }, '');
    expect(reviewsBody(0, 'v2', 'p', ok).reviews.map((r) => r.rating)).toEqual([{ stars: 5, color: 'black' }, { stars: 4, color: 'black' }]);
    expect(reviewsBody(0, 'v3', 'p', ok)).toMatchObject({ ratings: 'available', reviews: [{ rating: { stars: 5, color: 'red' } }, { rating: { stars: 4, color: 'red' } }] });
  });
  it.each([
    ['a 500', ratingsOutcome(500, { error: 'x' }, '')],
    ['a 200 without ratings', ratingsOutcome(200, 'fault filter abort', '')],
    ['a timeout', ratingsOutcome(undefined, undefined, 'timeout after 10000 ms')],
  ])('ratings unavailable after %s', (_n, outcome) => {
    const b = reviewsBody(0, 'v2', 'p', outcome);
    expect(b.ratings).toBe('unavailable');
    expect(b.reviews.map((r) => r.rating)).toEqual([{ error: RATINGS_UNAVAILABLE }, { error: RATINGS_UNAVAILABLE }]);
  });
});

describe('the product page', () => {
  const details: CallResult = { kind: 'ok', status: 200, body: { id: 0, title: 'The Comedy of Errors', author: 'William Shakespeare', year: 1595, type: 'paperback', pages: 200, publisher: 'Lab Press', language: 'English', 'ISBN-10': '0', 'ISBN-13': '0' }, ms: 3 };
  const reviews = (version: 'v1' | 'v2' | 'v3', ratings: 'ok' | 'down' = 'ok'): CallResult => ({
    kind: 'ok', status: 200, ms: 5,
    body: reviewsBody(0, version, `reviews-${version}-x`, version === 'v1' ? { kind: 'not-used' } : ratings === 'ok' ? { kind: 'ok', ratings: { Reviewer1: 5, Reviewer2: 4 } } : { kind: 'unavailable', why: 'status 500' }),
  });
  const timeout: CallResult = { kind: 'failed', reason: 'timeout after 3000 ms', ms: 3000 };

  it.each([
    ['v1: no ratings', [reviews('v1')], { reviewsVersion: 'v1', ratings: 'not-used', stars: null, reviewsAttempts: 1 }],
    ['v2: black stars', [reviews('v2')], { reviewsVersion: 'v2', ratings: 'available', stars: 'black' }],
    ['v3: red stars', [reviews('v3')], { reviewsVersion: 'v3', ratings: 'available', stars: 'red' }],
    ['v2 with ratings down', [reviews('v2', 'down')], { reviewsVersion: 'v2', ratings: 'unavailable', stars: 'black' }],
    ['a timeout, then the retry answers', [timeout, reviews('v3')], { reviewsVersion: 'v3', reviewsAttempts: 2, reviewsFailures: ['timeout after 3000 ms'] }],
    ['two timeouts: the error', [timeout, timeout], { reviews: null, reviewsError: REVIEWS_ERROR, reviewsVersion: null, reviewsAttempts: 2 }],
    ['a 503 from the mesh, then the retry answers', [{ kind: 'ok', status: 503, body: 'no healthy upstream', ms: 1 }, reviews('v1')], { reviewsVersion: 'v1', reviewsFailures: ['status 503'] }],
    ['a 200 that is not reviews is an error', [{ kind: 'ok', status: 200, body: 'hello', ms: 1 }], { reviewsError: REVIEWS_ERROR }],
  ] as [string, CallResult[], Partial<ProductPage>][])('%s', (_n, attempts, want) => {
    expect(productPage('jason', 0, details, attempts)).toMatchObject({ user: 'jason', ...want });
  });

  it('the HTML says who served the reviews and how the ratings went', () => {
    const v2 = renderProductPage(productPage(undefined, 0, details, [reviews('v2')]));
    expect(v2).toContain('Not signed in');
    expect(v2).toContain('The Comedy of Errors');
    expect(v2).toContain('Reviews served by: reviews-v2-x (reviews-v2); ratings available (black stars)');
    expect(v2).toContain('style="color:black">★★★★★</span>');
    expect(v2).toContain('★★★★☆');
    const down = renderProductPage(productPage('jason', 0, details, [reviews('v3', 'down')]));
    expect(down).toContain('Signed in as jason');
    expect(down).toContain(RATINGS_UNAVAILABLE);
    expect(down).toContain('data-ratings="unavailable"');
    const err = renderProductPage(productPage('jason', 0, { kind: 'failed', reason: 'ECONNREFUSED', ms: 1 }, [timeout, timeout]));
    expect(err).toContain('Error fetching product reviews');
    expect(err).toContain('Error fetching product details');
  });

  it('escapes the user name', () => {
    expect(renderProductPage(productPage('<b>x</b>', 0, details, [reviews('v1')]))).toContain('Signed in as &lt;b&gt;x&lt;/b&gt;');
  });
});

// ------------------------------------------------------------------------------------------------
// The four programs on loopback, wired by env as the lab manifest wires them by Service address.

const REPO = join(new URL('.', import.meta.url).pathname, '../../..');
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

async function start(image: string, env: Record<string, string>): Promise<{ port: number; lines: string[]; child: ChildProcess }> {
  const resolved = resolveImage(image);
  if ('error' in resolved) throw new Error(resolved.error);
  const child = spawn(process.execPath, [join(REPO, resolved.program)], {
    env: { PATH: process.env.PATH, NODE_OPTIONS: process.env.NODE_OPTIONS, POD_NAME: `${image.slice(13)}-pod`, POD_NAMESPACE: 'bookinfo', PORT: '0', BIND_ADDRESS: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const lines: string[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${image}: no ready line; stderr: ${stderr}`)), 10_000);
    child.on('exit', (code) => reject(new Error(`${image} exited ${code}: ${stderr}`)));
    createInterface({ input: child.stdout! }).on('line', (l) => {
      lines.push(l);
      const v = JSON.parse(l) as { msg?: string; port?: number };
      if (v.msg === 'ready' && typeof v.port === 'number') {
        clearTimeout(timer);
        resolve(v.port);
      }
    });
  });
  return { port, lines, child };
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; contentType: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, contentType: String(res.headers['content-type']) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the Bookinfo programs together (loopback)', () => {
  it('productpage → details + reviews v2 → ratings: black stars, trace headers and end-user reach ratings', async () => {
    const ratings = await start('lab/bookinfo-ratings', {});
    const reviews = await start('lab/bookinfo-reviews', { VERSION: 'v2', RATINGS_HOSTNAME: `127.0.0.1:${ratings.port}` });
    const details = await start('lab/bookinfo-details', {});
    const page = await start('lab/bookinfo-productpage', { DETAILS_HOSTNAME: `127.0.0.1:${details.port}`, REVIEWS_HOSTNAME: `127.0.0.1:${reviews.port}` });
    const api = await get(page.port, '/api/productpage?u=jason', { 'x-request-id': 'rid-42', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    expect(api.status).toBe(200);
    expect(JSON.parse(api.body)).toMatchObject({ user: 'jason', reviewsVersion: 'v2', ratings: 'available', stars: 'black', reviewsPod: 'reviews-pod', details: { title: 'The Comedy of Errors' } });
    const html = await get(page.port, '/productpage');
    expect(html.contentType).toMatch(/^text\/html/);
    expect(html.body).toContain('Reviews served by: reviews-pod (reviews-v2); ratings available (black stars)');
    const seen = ratings.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request');
    expect(seen[0]).toMatchObject({ user: 'jason', requestId: 'rid-42', status: 200, n: 1 });
    expect(seen[1]).toMatchObject({ user: null, n: 2 });
    expect((await get(page.port, '/health')).status).toBe(200);
  }, 30_000);

  it('ratings failing: "Ratings service is currently unavailable"; reviews too slow: one retry, then "Error fetching product reviews"', async () => {
    const ratings = await start('lab/bookinfo-ratings', { SERVICE_VERSION: 'v-unavailable' });
    const reviews = await start('lab/bookinfo-reviews', { VERSION: 'v3', RATINGS_HOSTNAME: `127.0.0.1:${ratings.port}` });
    const details = await start('lab/bookinfo-details', {});
    const page = await start('lab/bookinfo-productpage', { DETAILS_HOSTNAME: `127.0.0.1:${details.port}`, REVIEWS_HOSTNAME: `127.0.0.1:${reviews.port}` });
    expect(JSON.parse((await get(page.port, '/api/productpage')).body)).toMatchObject({ reviewsVersion: 'v3', ratings: 'unavailable', stars: 'red' });
    expect((await get(page.port, '/productpage')).body).toContain(RATINGS_UNAVAILABLE);

    const slowRatings = await start('lab/bookinfo-ratings', { DELAY_MS: '1500' });
    const slowReviews = await start('lab/bookinfo-reviews', { VERSION: 'v2', RATINGS_HOSTNAME: `127.0.0.1:${slowRatings.port}` });
    const impatient = await start('lab/bookinfo-productpage', { DETAILS_HOSTNAME: `127.0.0.1:${details.port}`, REVIEWS_HOSTNAME: `127.0.0.1:${slowReviews.port}`, REVIEWS_TIMEOUT_MS: '300' });
    const t0 = Date.now();
    const r = JSON.parse((await get(impatient.port, '/api/productpage?u=jason')).body) as ProductPage;
    const ms = Date.now() - t0;
    expect(r).toMatchObject({ reviews: null, reviewsError: REVIEWS_ERROR, reviewsAttempts: 2, reviewsFailures: ['timeout after 300 ms', 'timeout after 300 ms'] });
    // Two attempts of 300 ms each, not the 1.5 s the slow ratings would take: the failures say so.
    expect(ms).toBeGreaterThanOrEqual(600);
    expect((await get(impatient.port, '/productpage?u=jason')).body).toContain('Error fetching product reviews');
  }, 30_000);

  it('FAIL_FIRST: the first requests fail with FAIL_STATUS, then ratings answers', async () => {
    const ratings = await start('lab/bookinfo-ratings', { FAIL_FIRST: '2' });
    expect([(await get(ratings.port, '/ratings/0')).status, (await get(ratings.port, '/ratings/0')).status, (await get(ratings.port, '/ratings/0')).status]).toEqual([500, 500, 200]);
    expect((await get(ratings.port, '/nope')).status).toBe(404);
  }, 20_000);

  it('exits 0 on SIGTERM', async () => {
    const d = await start('lab/bookinfo-details', {});
    const exited = new Promise<number | null>((r) => d.child.on('exit', (code) => r(code)));
    d.child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 20_000);
});
