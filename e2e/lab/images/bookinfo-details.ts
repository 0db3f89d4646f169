// lab/bookinfo-details: Bookinfo's details service. `GET /details/<id>` answers the book's facts as
// JSON; `/health` answers 200. Env: PORT (default 9080, 0 = ephemeral), BIND_ADDRESS.
import { detailsFor, productIdFrom } from './bookinfo-pages.ts';
import { sendJson, serveBookinfo } from './bookinfo-http.ts';
import { log } from './program.ts';

await serveBookinfo('details', (req, url, res) => {
  const id = productIdFrom(url.pathname, 'details');
  if (id === undefined) return sendJson(res, 404, { error: 'please use /details/<id>' });
  sendJson(res, 200, detailsFor(id));
  log('info', 'request', { method: req.method, path: url.pathname, status: 200, user: req.headers['end-user'] ?? null });
});
