// ztunnel's resolv.conf as glibc reads it: which nameservers count, the search list, the options.
import { describe, expect, it } from 'vitest';
import { parseResolvConf } from './resolv-conf.ts';

describe('parseResolvConf', () => {
  it('reads nameservers (at most three, numeric only), search and options', () => {
    const conf = parseResolvConf(`# generated
nameserver 10.96.0.10
nameserver fe80::1%eth0
nameserver dns.example
nameserver 2001:db8::53 ; trailing comment
domain old.example
search prod.svc.cluster.local svc.cluster.local cluster.local.
options ndots:5 timeout:2 attempts:9
nameserver 10.0.0.3
nameserver 10.0.0.4
`);
    expect(conf).toEqual({
      nameservers: [{ address: '10.96.0.10', port: 53 }, { address: '2001:db8::53', port: 53 }, { address: '10.0.0.3', port: 53 }],
      search: ['prod.svc.cluster.local', 'svc.cluster.local', 'cluster.local'],
      timeoutMs: 2000,
      attempts: 5,
    });
  });

  it('falls back to 127.0.0.1 and glibc defaults', () => {
    expect(parseResolvConf('')).toEqual({ nameservers: [{ address: '127.0.0.1', port: 53 }], search: [], timeoutMs: 5000, attempts: 2 });
  });
});
