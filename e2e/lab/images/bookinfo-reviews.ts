// lab/bookinfo-reviews: Bookinfo's reviews service in three versions, chosen by VERSION or the pod's
// `version` label: v1 answers reviews without ratings; v2 and v3 ask ratings (10 s client timeout,
// the trace headers and `end-user` passed on) and show black (v2) or red (v3) stars, or "Ratings
// service is currently unavailable" when ratings failed or timed out. `GET /reviews/<id>`.
// Env: PORT (default 9080), BIND_ADDRESS, RATINGS_HOSTNAME / SERVICES_DOMAIN (where ratings is),
// RATINGS_TIMEOUT_MS (default 10000).
import { forwardedHeaders, productIdFrom, ratingsOutcome, reviewsBody, reviewsVersion, serviceBaseUrl, type RatingsOutcome } from './bookinfo-pages.ts';
import { envMs, getJson, sendJson, serveBookinfo } from './bookinfo-http.ts';
import { log, podIdentity } from './program.ts';

const id = podIdentity();
const version = reviewsVersion(process.env, id.labels);
const ratingsUrl = serviceBaseUrl('ratings', process.env);
const ratingsTimeoutMs = envMs('RATINGS_TIMEOUT_MS', 10_000);

await serveBookinfo(`reviews-${version}`, async (req, url, res) => {
  const product = productIdFrom(url.pathname, 'reviews');
  if (product === undefined) return sendJson(res, 404, { error: 'please use /reviews/<id>' });
  let outcome: RatingsOutcome = { kind: 'not-used' };
  let ratingsMs: number | undefined;
  if (version !== 'v1') {
    const r = await getJson(`${ratingsUrl}/ratings/${product}`, forwardedHeaders(req.headers), ratingsTimeoutMs);
    ratingsMs = r.ms;
    outcome = r.kind === 'ok' ? ratingsOutcome(r.status, r.body, '') : ratingsOutcome(undefined, undefined, r.reason);
  }
  if (res.destroyed) return;
  sendJson(res, 200, reviewsBody(product, version, id.pod, outcome));
  log('info', 'request', { method: req.method, path: url.pathname, status: 200, version, ratings: outcome.kind, ...(outcome.kind === 'unavailable' ? { why: outcome.why } : {}), ...(ratingsMs !== undefined ? { ratingsMs } : {}), user: req.headers['end-user'] ?? null });
});
