// lab/bookinfo-productpage: Bookinfo's front end. `GET /productpage?u=<user>` asks details and
// reviews (passing on the trace headers, and `end-user: <user>` when u is given) and renders an HTML
// page naming the reviews version that answered and whether ratings were there, or "Error fetching
// product reviews"; `GET /api/productpage?u=<user>` answers the same page as JSON. As the real
// sample, reviews gets a 3 s timeout and ONE retry.
// Env: PORT (default 9080), BIND_ADDRESS, DETAILS_HOSTNAME / REVIEWS_HOSTNAME / SERVICES_DOMAIN,
// REVIEWS_TIMEOUT_MS (3000), REVIEWS_RETRIES (1), DETAILS_TIMEOUT_MS (3000).
import { forwardedHeaders, productPage, renderProductPage, reviewsUsable, serviceBaseUrl, type CallResult } from './bookinfo-pages.ts';
import { envMs, getJson, sendJson, sendText, serveBookinfo } from './bookinfo-http.ts';
import { log } from './program.ts';

const PRODUCT_ID = 0;
const detailsUrl = serviceBaseUrl('details', process.env);
const reviewsUrl = serviceBaseUrl('reviews', process.env);
const reviewsTimeoutMs = envMs('REVIEWS_TIMEOUT_MS', 3000);
const reviewsRetries = envMs('REVIEWS_RETRIES', 1);
const detailsTimeoutMs = envMs('DETAILS_TIMEOUT_MS', 3000);

async function reviewsCalls(headers: Record<string, string>): Promise<CallResult[]> {
  const out: CallResult[] = [];
  for (let i = 0; i <= reviewsRetries; i++) {
    const r = await getJson(`${reviewsUrl}/reviews/${PRODUCT_ID}`, headers, reviewsTimeoutMs);
    out.push(r);
    if (reviewsUsable(r)) break;
  }
  return out;
}

await serveBookinfo('productpage', async (req, url, res) => {
  const html = url.pathname === '/productpage';
  if (!html && url.pathname !== '/api/productpage') {
    if (url.pathname === '/') return sendText(res, 200, 'text/html; charset=utf-8', '<a href="/productpage">/productpage</a>\n');
    return sendJson(res, 404, { error: 'not found' });
  }
  const started = performance.now();
  const user = url.searchParams.get('u') ?? undefined;
  const headers = forwardedHeaders(req.headers, user);
  const [details, reviews] = await Promise.all([getJson(`${detailsUrl}/details/${PRODUCT_ID}`, headers, detailsTimeoutMs), reviewsCalls(headers)]);
  const page = productPage(user, PRODUCT_ID, details, reviews);
  if (html) sendText(res, 200, 'text/html; charset=utf-8', renderProductPage(page));
  else sendJson(res, 200, page);
  log('info', 'request', {
    method: req.method, path: url.pathname, status: 200, user: page.user,
    reviews: page.reviewsVersion ?? 'error', ratings: page.ratings, attempts: page.reviewsAttempts,
    failures: page.reviewsFailures, ms: Math.round(performance.now() - started),
  });
});
