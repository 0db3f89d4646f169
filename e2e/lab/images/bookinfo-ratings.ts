// lab/bookinfo-ratings: Bookinfo's ratings service. `GET /ratings/<id>` answers the reviewers' stars as
// JSON. For fault scenarios, from env (see ratingsBehaviour): SERVICE_VERSION=v-unavailable (always
// 503), FAIL_FIRST=<n> with FAIL_STATUS (default 500: the first n requests fail, then it recovers),
// DELAY_MS (every answer late). Each request is logged with its number and status.
// Env: PORT (default 9080, 0 = ephemeral), BIND_ADDRESS.
import { planRatings, productIdFrom, ratingsBehaviour } from './bookinfo-pages.ts';
import { sendJson, serveBookinfo } from './bookinfo-http.ts';
import { log } from './program.ts';

const behaviour = ratingsBehaviour(process.env);
let served = 0;

await serveBookinfo('ratings', (req, url, res) => {
  const id = productIdFrom(url.pathname, 'ratings');
  if (id === undefined) return sendJson(res, 404, { error: 'please use /ratings/<id>' });
  const n = ++served;
  const plan = planRatings(behaviour, n, id);
  const send = () => {
    sendJson(res, plan.status, plan.body);
    log('info', 'request', { method: req.method, path: url.pathname, n, status: plan.status, user: req.headers['end-user'] ?? null, requestId: req.headers['x-request-id'] ?? null });
  };
  if (plan.delayMs === 0) return send();
  const timer = setTimeout(send, plan.delayMs);
  res.on('close', () => clearTimeout(timer));
});
