// Fuzzing the DNS proxy's listeners on loopback (the pod's 15053): UDP datagrams and TCP byte
// streams (length-prefixed frames with lying prefixes, cut anywhere, mutated real queries). The
// server never throws, answers every frame it can with a well-formed reply to that frame's id, and
// keeps answering a real query on both transports afterwards.
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzzBudget, fuzzParams, mutatedFrom, wireInput } from '../../../lib/fuzz/fuzz.ts';
import { createLogger } from '../../../lib/log/logger.ts';
import { Registry } from '../../../lib/metrics/registry.ts';
import { UdpSocket } from '../../../lib/netns/index.ts';
import { Forwarder } from './forwarder.ts';
import { dnsHandler } from './handler.ts';
import { parseMessage, RR_TYPE } from './message.ts';
import { registerDnsMetrics } from './metrics.ts';
import { startDnsServer, type DnsServer } from './server.ts';
import { dnsQuery } from './test-messages.ts';

const budget = fuzzBudget(0.3);
const LO = '127.0.0.1';
const log = createLogger({ component: 'dns-fuzz', level: 'silent' });
const SEEDS = [dnsQuery('web', { id: 1 }), dnsQuery('web.prod.svc.cluster.local', { id: 2, type: RR_TYPE.AAAA }), dnsQuery('example.com', { id: 3 })];

let server: DnsServer;
let client: UdpSocket;
beforeAll(() => {
  const forwarder = new Forwarder({ upstreams: [], timeoutMs: 100, sockets: { udp: () => { throw new Error('unused'); }, tcp: () => { throw new Error('unused'); } } });
  const handle = dnsHandler({ catalog: () => new Map([['web.prod.svc.cluster.local', ['10.96.0.10']]]), clientNamespace: 'prod', forwarder, metrics: registerDnsMetrics(new Registry()), log });
  server = startDnsServer({ address: LO, port: 0, handle, log, tcpIdleTimeoutMs: 2000 });
  client = UdpSocket.open({ address: LO });
});
afterAll(() => {
  client?.close();
  server?.close();
});

function frame(m: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(m.length);
  return Buffer.concat([len, m]);
}

/** Writes `bytes`, half-closes, and collects whole reply frames until the server closes. */
function tcpExchange(bytes: Buffer): Promise<Buffer[]> {
  return new Promise((resolve) => {
    const s = net.connect({ port: server.udp.address().port, host: LO, allowHalfOpen: true });
    let buffered = Buffer.alloc(0);
    const replies: Buffer[] = [];
    s.on('error', () => undefined);
    s.on('data', (c: Buffer) => {
      buffered = Buffer.concat([buffered, c]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        replies.push(buffered.subarray(2, 2 + buffered.readUInt16BE(0)));
        buffered = buffered.subarray(2 + buffered.readUInt16BE(0));
      }
    });
    s.on('close', () => resolve(replies));
    s.on('connect', () => s.end(bytes));
  });
}

function udpExchange(payload: Buffer, ms: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
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
    client.send(payload, server.udp.address().port, LO);
  });
}

describe('DNS proxy listeners under fuzzing', () => {
  it('answers fuzzed TCP streams frame by frame with well-formed replies, and still serves both transports', async () => {
    const streams = fc.oneof(
      fc.array(wireInput(SEEDS, 600).map(frame), { minLength: 1, maxLength: 4 }).map((fs) => Buffer.concat(fs)),
      mutatedFrom(SEEDS.map(frame), 4),
      fc.uint8Array({ maxLength: 700 }).map((b) => Buffer.from(b)),
    );
    await fc.assert(
      fc.asyncProperty(streams, async (bytes) => {
        const replies = await tcpExchange(bytes);
        for (const r of replies) {
          const m = parseMessage(r);
          expect(m.ok).toBe(true);
          if (m.ok) expect(m.message.header.qr).toBe(true);
        }
      }),
      fuzzParams(budget, { hangMs: 10_000 }),
    );
    const viaTcp = await tcpExchange(frame(dnsQuery('web', { id: 77 })));
    expect(viaTcp.map((r) => parseMessage(r)).map((m) => m.ok && m.message.header.id)).toEqual([77]);
    const viaUdp = await udpExchange(dnsQuery('web', { id: 78 }), 2000);
    expect(viaUdp && parseMessage(viaUdp)).toMatchObject({ ok: true, message: { header: { id: 78, qr: true } } });
  }, budget.testTimeoutMs + 30_000);

  it('answers or drops fuzzed UDP datagrams, and still serves afterwards', async () => {
    await fc.assert(
      fc.asyncProperty(wireInput(SEEDS, 1400), async (d) => {
        // A datagram that cannot carry an id or is a response is dropped: no reply comes.
        const reply = await udpExchange(d, d.length >= 12 && (d[2]! & 0x80) === 0 ? 2000 : 30);
        if (reply) expect(parseMessage(reply)).toMatchObject({ ok: true, message: { header: { qr: true, id: d.readUInt16BE(0) } } });
        else expect(d.length < 12 || (d[2]! & 0x80) !== 0).toBe(true);
      }),
      fuzzParams(budget, { hangMs: 10_000 }),
    );
    const viaUdp = await udpExchange(dnsQuery('web', { id: 79 }), 2000);
    expect(viaUdp && parseMessage(viaUdp)).toMatchObject({ ok: true, message: { header: { id: 79 } } });
  }, budget.testTimeoutMs + 30_000);
});
