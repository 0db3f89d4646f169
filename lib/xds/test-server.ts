// Test helper, not production code: a small in-process delta ADS server on loopback (grpc-js), enough
// of istiod's behaviour to test clients against a real stream. It keeps resources per type URL,
// answers each new wildcard subscription with what the client lacks (skipping versions it already
// holds, removing names it no longer has), pushes changes to subscribed streams, records every
// request and the call metadata, and can misbehave on demand (raw bytes, dropped streams).
import { Metadata, Server, ServerCredentials, status as GrpcStatus, type ServerDuplexStream } from '@grpc/grpc-js';
import { x509, certificateToPem, generateP256KeyPair, privateKeyToPem, signingAlgorithmFor } from '../identity/x509.ts';
import { deltaAggregatedResourcesMethod, type Any, type DeltaDiscoveryRequest, type DeltaDiscoveryResponse } from '../proto/index.ts';

export interface TestResource {
  name: string;
  version: string;
  resource: Any;
}

type Outgoing = DeltaDiscoveryResponse | Buffer;

export interface TestStream {
  readonly metadata: Metadata;
  readonly requests: DeltaDiscoveryRequest[];
  /** Type URLs this stream subscribed to. */
  readonly subscribed: Set<string>;
  open: boolean;
  /** Sends raw bytes as one gRPC message (e.g. a response that does not decode). */
  sendRaw(bytes: Buffer): void;
  send(resp: Partial<DeltaDiscoveryResponse> & { typeUrl: string }): string;
  /** Ends the stream with UNAVAILABLE, as a restarting server would. */
  drop(): void;
}

export interface XdsTestServerOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Serve TLS with this certificate instead of plaintext. */
  tls?: { certPem: string; keyPem: string };
}

export class XdsTestServer {
  readonly port: number;
  readonly tls: boolean;
  readonly streams: TestStream[] = [];
  readonly #server: Server;
  readonly #store = new Map<string, Map<string, TestResource>>();
  /** Types whose first response to a new subscription is held back until release(). */
  readonly #held = new Map<string, (() => void)[]>();
  #nonce = 0;

  private constructor(server: Server, port: number, tls: boolean) {
    this.#server = server;
    this.port = port;
    this.tls = tls;
  }

  static async start(opts: XdsTestServerOptions = {}): Promise<XdsTestServer> {
    const server = new Server();
    let self: XdsTestServer | undefined;
    // The stock definition, except that a Buffer is written as is (to send bytes that do not decode).
    const definition = {
      DeltaAggregatedResources: {
        ...deltaAggregatedResourcesMethod,
        responseSerialize: (v: Outgoing) => (Buffer.isBuffer(v) ? v : deltaAggregatedResourcesMethod.responseSerialize(v)),
      },
    };
    server.addService(definition, {
      DeltaAggregatedResources: (call: ServerDuplexStream<DeltaDiscoveryRequest, Outgoing>) => {
        if (self) self.#onStream(call);
        else call.emit('error', { code: GrpcStatus.UNAVAILABLE, details: 'starting' });
      },
    });
    const creds = opts.tls
      ? ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(opts.tls.certPem), private_key: Buffer.from(opts.tls.keyPem) }], false)
      : ServerCredentials.createInsecure();
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`127.0.0.1:${opts.port ?? 0}`, creds, (err, p) => (err ? reject(err) : resolve(p)));
    });
    self = new XdsTestServer(server, port, opts.tls !== undefined);
    return self;
  }

  get address(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** Streams still open. */
  openStreams(): TestStream[] {
    return this.streams.filter((s) => s.open);
  }

  /** Every request received on any stream, in order per stream. */
  requests(): DeltaDiscoveryRequest[] {
    return this.streams.flatMap((s) => s.requests);
  }

  resources(typeUrl: string): Map<string, TestResource> {
    let m = this.#store.get(typeUrl);
    if (!m) this.#store.set(typeUrl, (m = new Map()));
    return m;
  }

  /** Changes the store and pushes one response with all of it to each subscribed stream. */
  update(typeUrl: string, change: { upsert?: TestResource[]; remove?: string[] }): void {
    const store = this.resources(typeUrl);
    for (const r of change.upsert ?? []) store.set(r.name, r);
    for (const n of change.remove ?? []) store.delete(n);
    for (const s of this.openStreams()) {
      if (!s.subscribed.has(typeUrl)) continue;
      s.send({ typeUrl, resources: (change.upsert ?? []).map((r) => ({ ...r, aliases: [] })), removedResources: change.remove ?? [] });
    }
  }

  /** New subscriptions to `typeUrl` get no response until release(typeUrl). */
  hold(typeUrl: string): void {
    if (!this.#held.has(typeUrl)) this.#held.set(typeUrl, []);
  }

  /** Answers the subscriptions held back, and stops holding. */
  release(typeUrl: string): void {
    const pending = this.#held.get(typeUrl) ?? [];
    this.#held.delete(typeUrl);
    for (const answer of pending) answer();
  }

  /** Ends every open stream with UNAVAILABLE (clients reconnect). */
  dropStreams(): void {
    for (const s of this.openStreams()) s.drop();
  }

  async close(): Promise<void> {
    this.#server.forceShutdown();
  }

  #onStream(call: ServerDuplexStream<DeltaDiscoveryRequest, Outgoing>): void {
    const stream: TestStream = {
      metadata: call.metadata,
      requests: [],
      subscribed: new Set(),
      open: true,
      sendRaw: (bytes) => {
        if (stream.open) call.write(bytes);
      },
      send: (resp) => {
        const nonce = `n${++this.#nonce}`;
        if (stream.open) call.write({ systemVersionInfo: '', resources: [], removedResources: [], removedResourceNames: [], nonce, ...resp });
        return nonce;
      },
      drop: () => {
        if (!stream.open) return;
        stream.open = false;
        call.emit('error', { code: GrpcStatus.UNAVAILABLE, details: 'test server dropped the stream' });
      },
    };
    this.streams.push(stream);
    const closed = (): void => {
      stream.open = false;
    };
    call.on('cancelled', closed);
    call.on('error', closed);
    call.on('end', () => {
      closed();
      call.end();
    });
    call.on('data', (req: DeltaDiscoveryRequest) => {
      stream.requests.push(req);
      // A request without a nonce for a type not yet subscribed opens the (wildcard) subscription.
      if (req.responseNonce !== '' || stream.subscribed.has(req.typeUrl)) return;
      stream.subscribed.add(req.typeUrl);
      const answer = (): void => {
        const store = this.resources(req.typeUrl);
        const held = req.initialResourceVersions;
        stream.send({
          typeUrl: req.typeUrl,
          resources: [...store.values()].filter((r) => held[r.name] !== r.version).map((r) => ({ ...r, aliases: [] })),
          removedResources: Object.keys(held).filter((n) => !store.has(n)),
        });
      };
      const pending = this.#held.get(req.typeUrl);
      if (pending) pending.push(answer);
      else answer();
    });
  }
}

/** A test root and a server certificate it signs for `localhost` and 127.0.0.1, for TLS tests. */
export async function testServerPki(): Promise<{ rootPem: string; certPem: string; keyPem: string }> {
  const rootKeys = await generateP256KeyPair();
  const now = Date.now();
  const validity = { notBefore: new Date(now - 60_000), notAfter: new Date(now + 3600_000) };
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    name: [{ CN: ['xds-test-root'] }],
    keys: rootKeys,
    ...validity,
    signingAlgorithm: signingAlgorithmFor(rootKeys.privateKey),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const keys = await generateP256KeyPair();
  const leaf = await x509.X509CertificateGenerator.create({
    subject: [{ CN: ['localhost'] }],
    issuer: root.subjectName,
    publicKey: keys.publicKey,
    signingKey: rootKeys.privateKey,
    ...validity,
    signingAlgorithm: signingAlgorithmFor(rootKeys.privateKey),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'localhost' }, { type: 'ip', value: '127.0.0.1' }]),
    ],
  });
  return { rootPem: certificateToPem(root), certPem: certificateToPem(leaf), keyPem: await privateKeyToPem(keys.privateKey) };
}
