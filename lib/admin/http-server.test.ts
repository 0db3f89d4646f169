import { afterEach, describe, expect, it } from 'vitest';
import { json, startOpsServer, text, type OpsServer } from './http-server.ts';

let srv: OpsServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

describe('ops server', () => {
  it('serves routes, 404s unknown paths and turns handler errors into 500', async () => {
    const errors: string[] = [];
    srv = await startOpsServer('127.0.0.1', 0, {
      '/ok': () => text('fine\n'),
      '/json': (_req, url) => json({ q: url.searchParams.get('q') }),
      '/boom': () => {
        throw new Error('kaput');
      },
    }, (e) => errors.push(e.message));
    const base = `http://127.0.0.1:${srv.port}`;
    expect(await (await fetch(`${base}/ok`)).text()).toBe('fine\n');
    expect(await (await fetch(`${base}/json?q=1`)).json()).toEqual({ q: '1' });
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    const boom = await fetch(`${base}/boom`);
    expect(boom.status).toBe(500);
    expect(errors).toEqual(['kaput']);
    expect((await fetch(`${base}/ok`)).status).toBe(200);
  });
});
