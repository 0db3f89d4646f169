import { describe, expect, it } from 'vitest';
import { renderError, renderVersion } from './cni-spec.ts';
import { renderPassThrough, resultIps } from './result.ts';

describe('result rendering', () => {
  const prev = {
    cniVersion: '1.0.0',
    interfaces: [{ name: 'veth1', mac: '02:42:00:00:00:01' }, { name: 'eth0', sandbox: '/run/netns/p' }],
    ips: [{ address: '10.250.0.5/24', gateway: '10.250.0.1', interface: 1 }],
    routes: [{ dst: '0.0.0.0/0' }],
    dns: {},
    somethingNew: { kept: true },
  };

  it('ADD passes prevResult through unchanged, one JSON line', () => {
    const out = renderPassThrough(prev, '1.0.0');
    expect(out.endsWith('\n')).toBe(true);
    expect(JSON.parse(out)).toEqual(prev);
  });

  it('labels the result with the version of this call', () => {
    expect(JSON.parse(renderPassThrough({ ...prev, cniVersion: '0.4.0' }, '1.1.0'))).toEqual({ ...prev, cniVersion: '1.1.0' });
    expect(JSON.parse(renderPassThrough({ ips: [] }, '0.3.1'))).toEqual({ ips: [], cniVersion: '0.3.1' });
  });

  it.each([
    { prev: {}, ips: [] },
    { prev: { ips: [] }, ips: [] },
    { prev: { ips: [{ address: '10.0.0.1/32' }, { address: '2001:db8::1/64', version: '6' }] }, ips: ['10.0.0.1', '2001:db8::1'] },
  ])('reads IPs from $prev', ({ prev: p, ips }) => {
    expect(resultIps(p)).toEqual({ ok: true, ips });
  });

  it.each([
    { prev: { ips: {} }, error: 'config.prevResult.ips: must be a list' },
    { prev: { ips: [{ address: '10.0.0.1' }] }, error: 'config.prevResult.ips[0].address: must be an IP address in CIDR form, got "10.0.0.1"' },
    { prev: { ips: [{}] }, error: 'config.prevResult.ips[0].address: must be an IP address in CIDR form, got undefined' },
    { prev: { ips: ['10.0.0.1/8'] }, error: 'config.prevResult.ips[0].address: must be an IP address in CIDR form, got undefined' },
  ])('rejects $prev', ({ prev: p, error }) => {
    expect(resultIps(p)).toEqual({ ok: false, errors: [error] });
  });

  it.each([
    { failure: { code: 11 as const, msg: 'later' }, version: undefined, out: { cniVersion: '1.1.0', code: 11, msg: 'later' } },
    { failure: { code: 7 as const, msg: 'bad', details: 'why' }, version: '1.0.0', out: { cniVersion: '1.0.0', code: 7, msg: 'bad', details: 'why' } },
  ])('error result $out', ({ failure, version, out }) => {
    expect(JSON.parse(renderError(failure, version))).toEqual(out);
  });

  it.each([
    { asked: '1.0.0', version: '1.0.0' },
    { asked: '0.3.1', version: '0.3.1' },
    { asked: undefined, version: '1.1.0' },
    { asked: '9.9.9', version: '1.1.0' },
  ])('VERSION answer for $asked', ({ asked, version }) => {
    expect(JSON.parse(renderVersion(asked))).toEqual({ cniVersion: version, supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  });
});
