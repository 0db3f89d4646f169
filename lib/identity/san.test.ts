import { describe, expect, it } from 'vitest';
import { parseSubjectAltName, peerIdentity, spiffeIdentityStrings, uriSans } from './san.ts';

describe('subject alternative names', () => {
  it('splits Node’s SAN text, including JSON-quoted values', () => {
    expect(parseSubjectAltName('DNS:a.example, URI:spiffe://td/ns/n/sa/s, IP Address:10.0.0.1')).toEqual([
      { type: 'DNS', value: 'a.example' },
      { type: 'URI', value: 'spiffe://td/ns/n/sa/s' },
      { type: 'IP Address', value: '10.0.0.1' },
    ]);
    expect(parseSubjectAltName(String.raw`URI:"spiffe://td/ns/a\u002cb/sa/s", DNS:x`)).toEqual([
      { type: 'URI', value: 'spiffe://td/ns/a,b/sa/s' },
      { type: 'DNS', value: 'x' },
    ]);
    expect(parseSubjectAltName(undefined)).toEqual([]);
    expect(parseSubjectAltName('URI:"unterminated')).toEqual([]);
  });

  it('takes the first parsable SPIFFE URI as the peer identity', () => {
    const cert = { subjectAltName: 'DNS:x, URI:https://not-spiffe, URI:spiffe://td/ns/n/sa/one, URI:spiffe://td/ns/n/sa/two' };
    expect(uriSans(cert)).toEqual(['https://not-spiffe', 'spiffe://td/ns/n/sa/one', 'spiffe://td/ns/n/sa/two']);
    expect(peerIdentity(cert)).toEqual({ trustDomain: 'td', namespace: 'n', serviceAccount: 'one' });
    expect(spiffeIdentityStrings(cert)).toEqual(['spiffe://td/ns/n/sa/one', 'spiffe://td/ns/n/sa/two']);
    expect(peerIdentity({ subjectAltName: 'DNS:x' })).toBeUndefined();
  });
});
