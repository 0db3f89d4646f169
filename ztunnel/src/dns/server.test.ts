// The DNS proxy end to end on loopback (no netns, no root): a client over UDP and TCP, the server,
// the handler, and the forwarder talking to a real upstream server run by the test. Covers our own
// answers, forwarding (with id rewriting, spoofed replies ignored, TCP retry of a truncated reply),
// SERVFAIL on timeout, truncation of big answers over UDP, and malformed input.
import { answerAddresses, decodeDns, dnsQuery } from './test-messages.ts';
import { once } from 'node:events';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../lib/log/logger.ts';
import { Registry } from '../../../lib/metrics/registry.ts';
import { UdpSocket } from '../../../lib/netns/index.ts';
import { Forwarder } from './forwarder.ts';
import { dnsHandler } from './handler.ts';
import { CLASS_IN, RCODE, RR_TYPE, serializeMessage, type DnsMessage, type DnsRecord } from './message.ts';
import { registerDnsMetrics, type DnsMetrics } from './metrics.ts';
import type { HostCatalog } from './resolve.ts';
import { startDnsServer, type DnsServer } from './server.ts';

const log = createLogger({ component: 'dns-test', level: 'silent' });
const LO = '127.0.0.1';

const query = (name: string, type: number = RR_TYPE.A, id = 0x4242, opcode = 0): Buffer => dnsQuery(name, { type, id, opcode });

const decode = decodeDns;

const addresses = answerAddresses;

/**
 * The upstream resolver: UDP and TCP on one loopback port. `example.test` resolves; `big.test` is
 * truncated over UDP and complete over TCP; `slow.test` never answers; `spoof.test` is answered
 * first with a wrong id.
 */
class Upstream {
  udp!: UdpSocket;
  tcp!: net.Server;
  readonly seen: { name: string; protocol: string; id: number }[] = [];

  /** UDP takes a free port and TCP joins it; another test may hold that TCP port, so try again. */
  async start(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.listen();
        return;
      } catch (err) {
        this.close();
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 10) throw err;
      }
    }
  }

  private async listen(): Promise<void> {
    this.udp = UdpSocket.open({ address: LO });
    this.udp.on('message', (data, rinfo) => {
      for (const reply of this.answer(data, 'udp')) this.udp.send(reply, rinfo.port, rinfo.address);
    });
    this.tcp = net.createServer((s) => {
      s.on('error', () => undefined);
      s.once('data', (chunk: Buffer) => {
        for (const reply of this.answer(chunk.subarray(2), 'tcp')) {
          const len = Buffer.alloc(2);
          len.writeUInt16BE(reply.length);
          s.write(Buffer.concat([len, reply]));
        }
      });
    });
    this.tcp.listen(this.udp.address().port, LO);
    await once(this.tcp, 'listening');
  }

  get port(): number {
    return this.udp.address().port;
  }

  answer(raw: Buffer, protocol: string): Buffer[] {
    const q = decode(raw);
    const question = q.questions[0]!;
    this.seen.push({ name: question.name, protocol, id: q.header.id });
    const reply = (answers: DnsRecord[], p: { tc?: boolean; id?: number } = {}): Buffer =>
      serializeMessage({ ...q, header: { ...q.header, qr: true, ra: true, tc: p.tc ?? false, id: p.id ?? q.header.id }, answers });
    const a = (address: string): DnsRecord => ({ kind: 'A', name: question.name, class: CLASS_IN, ttl: 60, address });
    switch (question.name) {
      case 'example.test':
        return [reply([a('203.0.113.7')])];
      case 'big.test':
        return protocol === 'udp' ? [reply([], { tc: true })] : [reply([a('203.0.113.8')])];
      case 'spoof.test':
        return [reply([a('6.6.6.6')], { id: q.header.id ^ 1 }), reply([a('203.0.113.9')])];
      default:
        return [];
    }
  }

  close(): void {
    this.udp.close();
    this.tcp.close();
  }
}

describe('DNS proxy on loopback', () => {
  const upstream = new Upstream();
  let server: DnsServer;
  let metrics: DnsMetrics;
  let client: UdpSocket;
  const manyVips = Array.from({ length: 60 }, (_, i) => `10.97.0.${i + 1}`);
  const catalog: HostCatalog = new Map([
    ['web.prod.svc.cluster.local', ['10.96.0.10']],
    ['many.prod.svc.cluster.local', manyVips],
  ]);

  beforeAll(async () => {
    await upstream.start();
    metrics = registerDnsMetrics(new Registry());
    const forwarder = new Forwarder({
      upstreams: [{ address: LO, port: upstream.port }],
      timeoutMs: 300,
      sockets: { udp: (family) => UdpSocket.open({ family, address: LO }), tcp: (host, port) => net.connect(port, host) },
    });
    const handle = dnsHandler({ catalog: () => catalog, clientNamespace: 'prod', forwarder, metrics, source: () => ({ canonicalService: 'sleep', canonicalRevision: 'v1' }), log });
    server = startDnsServer({ address: LO, port: 0, handle, log });
    client = UdpSocket.open({ address: LO });
  });

  afterAll(() => {
    client?.close();
    server?.close();
    upstream.close();
  });

  /** One UDP exchange; resolves with the reply, or undefined if none came within `ms`. */
  async function udp(payload: Buffer, ms = 2000): Promise<Buffer | undefined> {
    const reply = new Promise<Buffer | undefined>((resolve) => {
      const timer = setTimeout(() => {
        client.off('message', onMessage);
        resolve(undefined);
      }, ms);
      const onMessage = (data: Buffer): void => {
        clearTimeout(timer);
        client.off('message', onMessage);
        resolve(data);
      };
      client.on('message', onMessage);
    });
    client.send(payload, server.udp.address().port, LO);
    return reply;
  }

  /** Several pipelined queries on one TCP connection; replies keyed by id. */
  async function tcp(queries: Buffer[]): Promise<Map<number, DnsMessage>> {
    const s = net.connect(server.udp.address().port, LO);
    const frames = queries.map((q) => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(q.length);
      return Buffer.concat([len, q]);
    });
    s.write(Buffer.concat(frames));
    const replies = new Map<number, DnsMessage>();
    let buffered = Buffer.alloc(0);
    await new Promise<void>((resolve, reject) => {
      s.on('error', reject);
      s.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
          const m = decode(buffered.subarray(2, 2 + buffered.readUInt16BE(0)));
          buffered = buffered.subarray(2 + buffered.readUInt16BE(0));
          replies.set(m.header.id, m);
          if (replies.size === queries.length) {
            s.end();
            resolve();
          }
        }
      });
    });
    return replies;
  }

  const labels = (type: string, protocol: string) => ({ request_query_type: type, request_protocol: protocol, source_canonical_service: 'sleep', source_canonical_revision: 'v1' });

  it('answers a mesh service itself, authoritatively, over UDP', async () => {
    const m = decode((await udp(query('web', RR_TYPE.A, 7)))!);
    expect(m.header).toMatchObject({ id: 7, qr: true, aa: true, ra: true, rd: true, rcode: RCODE.NOERROR });
    expect(m.questions).toEqual([{ name: 'web', type: RR_TYPE.A, class: CLASS_IN }]);
    expect(m.answers[0]).toMatchObject({ kind: 'CNAME', target: 'web.prod.svc.cluster.local' });
    expect(addresses(m)).toEqual(['10.96.0.10']);
    expect(metrics.requests.get(labels('a', 'udp'))).toBeGreaterThanOrEqual(1);
  });

  it('gives an empty NOERROR for a known name without records of the type', async () => {
    const m = decode((await udp(query('web.prod.svc.cluster.local', RR_TYPE.AAAA)))!);
    expect(m.header).toMatchObject({ rcode: RCODE.NOERROR, aa: true });
    expect(m.answers).toEqual([]);
  });

  it('forwards other names upstream with a fresh id and hands the reply back under the client id', async () => {
    const before = metrics.upstreamRequests.get(labels('a', 'udp'));
    const m = decode((await udp(query('example.test', RR_TYPE.A, 0x0101)))!);
    expect(m.header).toMatchObject({ id: 0x0101, qr: true, aa: false, rcode: RCODE.NOERROR });
    expect(addresses(m)).toEqual(['203.0.113.7']);
    expect(upstream.seen.at(-1)).toMatchObject({ name: 'example.test', protocol: 'udp' });
    expect(metrics.upstreamRequests.get(labels('a', 'udp'))).toBe(before + 1);
  });

  it('ignores an upstream reply with the wrong id and waits for the right one', async () => {
    const m = decode((await udp(query('spoof.test')))!);
    expect(addresses(m)).toEqual(['203.0.113.9']);
  });

  it('answers SERVFAIL when the upstream does not reply, and counts the failure', async () => {
    const before = metrics.upstreamFailures.get(labels('a', 'udp'));
    const m = decode((await udp(query('slow.test', RR_TYPE.A, 99)))!);
    expect(m.header).toMatchObject({ id: 99, rcode: RCODE.SERVFAIL });
    expect(m.questions[0]?.name).toBe('slow.test');
    expect(metrics.upstreamFailures.get(labels('a', 'udp'))).toBe(before + 1);
  });

  it('relays a truncated upstream reply over UDP, so the client retries over TCP', async () => {
    const m = decode((await udp(query('big.test')))!);
    expect(m.header.tc).toBe(true);
  });

  it('serves pipelined TCP queries, retrying a truncated upstream reply over TCP', async () => {
    const replies = await tcp([query('web', RR_TYPE.A, 1), query('example.test', RR_TYPE.A, 2), query('big.test', RR_TYPE.A, 3), query('slow.test', RR_TYPE.A, 4)]);
    expect(addresses(replies.get(1)!)).toEqual(['10.96.0.10']);
    expect(addresses(replies.get(2)!)).toEqual(['203.0.113.7']);
    expect(addresses(replies.get(3)!)).toEqual(['203.0.113.8']);
    expect(replies.get(3)!.header.tc).toBe(false);
    expect(replies.get(4)!.header.rcode).toBe(RCODE.SERVFAIL);
    expect(upstream.seen.filter((s) => s.name === 'big.test').map((s) => s.protocol)).toContain('tcp');
    expect(metrics.requests.get(labels('a', 'tcp'))).toBe(4);
  });

  it('truncates an answer too big for UDP, and gives it whole over TCP', async () => {
    const small = decode((await udp(query('many.prod.svc.cluster.local')))!);
    expect(small.header).toMatchObject({ tc: true, rcode: RCODE.NOERROR });
    expect(small.answers).toEqual([]);
    const whole = (await tcp([query('many.prod.svc.cluster.local', RR_TYPE.A, 5)])).get(5)!;
    expect(addresses(whole)).toEqual(manyVips);
  });

  it('answers NOTIMP to other opcodes', async () => {
    const m = decode((await udp(query('web', RR_TYPE.A, 8, 2)))!);
    expect(m.header).toMatchObject({ id: 8, opcode: 2, rcode: RCODE.NOTIMP });
  });

  it('drops datagrams without a header, answers FORMERR to broken queries, and keeps serving', async () => {
    expect(await udp(Buffer.from('junk!'), 300)).toBeUndefined();
    expect(metrics.malformed.get({ request_protocol: 'udp', reason: 'short-header' })).toBe(1);

    const broken = Buffer.concat([query('web', RR_TYPE.A, 0x0bad).subarray(0, 12), Buffer.from([0xc0, 0x0c, 0, 1])]);
    const m = decode((await udp(broken))!);
    expect(m.header).toMatchObject({ id: 0x0bad, qr: true, rcode: RCODE.FORMERR });
    expect(m.questions).toEqual([]);
    expect(metrics.malformed.get({ request_protocol: 'udp', reason: 'DNS_BAD_POINTER' })).toBe(1);

    // A reply sent to us is not a query: dropped, never answered (no reflection loops).
    const response = Buffer.from(query('web'));
    response[2] = response[2]! | 0x80;
    expect(await udp(response, 300)).toBeUndefined();

    expect(addresses(decode((await udp(query('web')))!))).toEqual(['10.96.0.10']);
  });

  it('closes a TCP connection whose frame is not even a header', async () => {
    const s = net.connect(server.udp.address().port, LO);
    s.on('error', () => undefined);
    s.write(Buffer.from([0, 3, 1, 2, 3]));
    await once(s, 'close');
    expect(metrics.malformed.get({ request_protocol: 'tcp', reason: 'short-header' })).toBe(1);
  });
});
