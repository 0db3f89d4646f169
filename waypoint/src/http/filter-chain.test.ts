import { describe, expect, it } from 'vitest';
import type { HttpFilterChain } from '../config/types.ts';
import { decodeHeaders, encodeHeaders, filtersFor, type FilterContext, type HttpFilter } from './filter-chain.ts';
import type { RequestHead } from './headers.ts';

const head = (): RequestHead => ({ method: 'GET', path: '/', authority: 'a', scheme: 'http', headers: {}, protocol: 'HTTP/1.1' });
const ctx = {} as FilterContext;

describe('HTTP filter chain', () => {
  it('decodes in order, encodes in reverse, a local reply stops decoding', async () => {
    const seen: string[] = [];
    const f = (name: string, stop = false): HttpFilter => ({
      name,
      decodeHeaders: async (h) => {
        seen.push(`decode ${name}`);
        h.headers[`x-${name}`] = '1';
        return stop ? { localReply: { status: 403, body: 'RBAC: access denied', flags: [], details: 'rbac_access_denied' } } : 'continue';
      },
      encodeHeaders: (r) => {
        seen.push(`encode ${name}`);
        r.headers[`x-${name}`] = '1';
      },
    });
    const h = head();
    expect(await decodeHeaders([f('a'), f('b')], h, ctx)).toBe('continue');
    expect(h.headers).toEqual({ 'x-a': '1', 'x-b': '1' });
    encodeHeaders([f('a'), f('b')], { status: 200, headers: {} }, ctx);
    expect(seen).toEqual(['decode a', 'decode b', 'encode b', 'encode a']);
    seen.length = 0;
    const r = await decodeHeaders([f('a', true), f('b')], head(), ctx);
    expect(r).toMatchObject({ localReply: { status: 403 } });
    expect(seen).toEqual(['decode a']);
  });

  it('the router is terminal; a filter kind without an implementation fails closed', async () => {
    const chain = { httpFilters: [{ kind: 'router', name: 'envoy.filters.http.router' }] } as unknown as HttpFilterChain;
    expect(filtersFor(chain)).toEqual([]);
    expect(filtersFor(chain)).toBe(filtersFor(chain)); // built once per chain
    const unknown = { httpFilters: [{ kind: 'future-filter', name: 'x' }, { kind: 'router', name: 'r' }] } as unknown as HttpFilterChain;
    const [f] = filtersFor(unknown);
    expect(await decodeHeaders([f!], head(), ctx)).toMatchObject({ localReply: { status: 500 } });
  });

  it('builds the rbac, fault and cors filters istiod always emits', () => {
    const chain = {
      httpFilters: [
        { kind: 'rbac', name: 'envoy.filters.http.rbac', action: 'ALLOW', policies: [], shadow: false, statPrefix: '' },
        { kind: 'fault', name: 'envoy.filters.http.fault' },
        { kind: 'cors', name: 'envoy.filters.http.cors' },
        { kind: 'router', name: 'envoy.filters.http.router' },
      ],
    } as unknown as HttpFilterChain;
    const filters = filtersFor(chain);
    expect(filters.map((f) => f.name)).toEqual(['envoy.filters.http.rbac', 'envoy.filters.http.fault', 'envoy.filters.http.cors']);
  });
});
