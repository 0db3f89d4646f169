// The SPDY/3.1 server session against a small client made of the same frame functions, over a
// real loopback socket: stream open/accept/refuse, data both ways, FIN, PING echo, GOAWAY.
import { createServer, connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { pollUntil } from '../../poll.ts';
import { controlFrame, dataFrame, decodeHeaderBlock, encodeHeaderBlock, FrameType, HeaderZlib, readFrame, SpdySession, type Frame, type SpdyStream } from './spdy.ts';
import { negotiate } from './upgrade.ts';

async function pair(onStream: (s: SpdyStream) => true | string): Promise<{ client: Socket; frames: Frame[]; session: () => SpdySession | undefined; close: () => void }> {
  let session: SpdySession | undefined;
  const server = createServer((sock) => (session = new SpdySession(sock, Buffer.alloc(0), { onStream })));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const client = connect(port, '127.0.0.1');
  const frames: Frame[] = [];
  let buf: Buffer = Buffer.alloc(0);
  client.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    for (let f = readFrame(buf); f; f = readFrame(buf)) {
      frames.push(f.frame);
      buf = f.rest;
    }
  });
  await new Promise<void>((r) => client.once('connect', () => r()));
  return { client, frames, session: () => session, close: () => { client.destroy(); server.close(); } };
}

async function synStream(z: HeaderZlib, id: number, headers: Record<string, string>, flags = 0): Promise<Buffer> {
  const head = Buffer.alloc(10);
  head.writeUInt32BE(id, 0);
  return controlFrame(FrameType.SynStream, flags, Buffer.concat([head, await z.run(encodeHeaderBlock(headers))]));
}

describe('SPDY/3.1 session', () => {
  it('encodes and decodes frames and header blocks', () => {
    const f = readFrame(Buffer.concat([dataFrame(5, 1, Buffer.from('hi')), Buffer.from([0x80])]));
    expect(f?.frame).toMatchObject({ kind: 'data', streamId: 5, flags: 1 });
    expect(f?.rest.length).toBe(1);
    expect(readFrame(Buffer.from([0x80, 3, 0]))).toBeUndefined();
    expect(decodeHeaderBlock(encodeHeaderBlock({ StreamType: 'stdout', port: '80' }))).toEqual({ streamtype: 'stdout', port: '80' });
    expect(() => decodeHeaderBlock(Buffer.from([0, 0, 0, 1, 0, 0, 0, 9]))).toThrow(/truncated/);
  });

  it('accepts streams with SYN_REPLY, carries data both ways, FIN, PING and refusals', async () => {
    const seen: SpdyStream[] = [];
    const p = await pair((s) => {
      if (s.headers.streamtype === 'bogus') return 'bogus stream';
      seen.push(s);
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString()));
      s.on('end', () => s.end(`echo:${got}`));
      return true;
    });
    const z = new HeaderZlib('deflate');
    const inflate = new HeaderZlib('inflate');
    p.client.write(await synStream(z, 1, { streamtype: 'stdin' }));
    p.client.write(await synStream(z, 3, { streamtype: 'bogus' }));
    p.client.write(dataFrame(1, 0, Buffer.from('abc')));
    p.client.write(dataFrame(1, 1, Buffer.from('def')));
    const ping = Buffer.alloc(4);
    ping.writeUInt32BE(7);
    p.client.write(controlFrame(FrameType.Ping, 0, ping));
    await pollUntil('the echo and FIN', () => p.frames.some((f) => f.kind === 'data' && (f.flags & 1) === 1), { timeoutMs: 5000 });
    const reply = p.frames.find((f) => f.kind === 'control' && f.type === FrameType.SynReply);
    expect(reply?.kind === 'control' && reply.body.readUInt32BE(0)).toBe(1);
    if (reply?.kind === 'control') expect(decodeHeaderBlock(await inflate.run(reply.body.subarray(4)))).toEqual({});
    const rst = p.frames.find((f) => f.kind === 'control' && f.type === FrameType.RstStream);
    expect(rst?.kind === 'control' && rst.body.readUInt32BE(0)).toBe(3);
    const pong = p.frames.find((f) => f.kind === 'control' && f.type === FrameType.Ping);
    expect(pong?.kind === 'control' && pong.body.readUInt32BE(0)).toBe(7);
    const data = Buffer.concat(p.frames.filter((f) => f.kind === 'data').map((f) => f.body)).toString();
    expect(data).toBe('echo:abcdef');
    expect(seen.map((s) => s.id)).toEqual([1]);
    p.session()?.close();
    await pollUntil('GOAWAY', () => p.frames.some((f) => f.kind === 'control' && f.type === FrameType.GoAway), { timeoutMs: 5000 });
    p.close();
  });

  it('a garbage peer ends its session, not the process', async () => {
    const p = await pair(() => true);
    p.client.write(Buffer.from([0x80, 0x02, 0, 1, 0, 0, 0, 0])); // SPDY/2
    await pollUntil('the socket to be closed', () => p.client.destroyed || p.client.readableEnded, { timeoutMs: 5000 });
    p.close();
  });
});

describe('stream protocol negotiation', () => {
  it('takes the first client protocol the server has, as httpstream.Handshake does', () => {
    expect(negotiate(['v5.channel.k8s.io,v4.channel.k8s.io', 'v3.channel.k8s.io'], ['v4.channel.k8s.io', 'v3.channel.k8s.io'])).toEqual({ kind: 'ok', protocol: 'v4.channel.k8s.io' });
    expect(negotiate(undefined, ['a'])).toMatchObject({ kind: 'error', status: 400 });
    expect(negotiate('zzz', ['a'])).toMatchObject({ kind: 'error', status: 403, headers: { 'X-Accepted-Stream-Protocol-Versions': ['a'] } });
  });
});
