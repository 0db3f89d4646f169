// Per-stream facts collected along the pipeline (Envoy's StreamInfo), turned into exactly one
// RequestRecord when the stream ends.
import type { EndpointWorkload, ServiceRef } from '../config/types.ts';
import type { DownstreamConnection } from '../listener/downstream-connection.ts';
import type { RequestRecord, RequestRecordSink } from '../telemetry/request-record.ts';
import { headerValue, isGrpcContentType, type RequestHead } from './headers.ts';

export class StreamInfo {
  readonly startTime = new Date();
  readonly #start = performance.now();
  responseCode = 0;
  readonly responseFlags: string[] = [];
  responseCodeDetails = '';
  upstreamTransportFailureReason: string | undefined;
  grpcStatus: number | undefined;
  bytesReceived = 0;
  bytesSent = 0;
  requestHeaderBytes = 0;
  responseHeaderBytes = 0;
  upstreamServiceTimeMs: number | undefined;
  upstreamHost: string | undefined;
  upstreamCluster: string | undefined;
  routeName: string | undefined;
  destinationService: ServiceRef | undefined;
  destinationWorkload: EndpointWorkload | undefined;
  destinationPrincipal: string | undefined;
  originalPath: string | undefined;
  #emitted = false;

  readonly connection: DownstreamConnection;
  readonly head: RequestHead;

  constructor(connection: DownstreamConnection, head: RequestHead) {
    this.connection = connection;
    this.head = head;
  }

  get grpc(): boolean {
    return isGrpcContentType(headerValue(this.head.headers, 'content-type'));
  }

  addFlag(flag: string): void {
    if (!this.responseFlags.includes(flag)) this.responseFlags.push(flag);
  }

  /** Emits the record once; later calls do nothing. */
  emit(sink: RequestRecordSink): void {
    if (this.#emitted) return;
    this.#emitted = true;
    const c = this.connection;
    const h = this.head.headers;
    const record: RequestRecord = {
      kind: 'http',
      startTime: this.startTime,
      durationMs: Math.round(performance.now() - this.#start),
      requestProtocol: this.grpc ? 'grpc' : 'http',
      protocol: this.head.protocol,
      method: this.head.method,
      path: this.originalPath ?? this.head.path,
      authority: this.head.authority,
      userAgent: headerValue(h, 'user-agent'),
      requestId: headerValue(h, 'x-request-id'),
      xForwardedFor: headerValue(h, 'x-forwarded-for'),
      responseCode: this.responseCode,
      responseFlags: this.responseFlags,
      responseCodeDetails: this.responseCodeDetails,
      upstreamTransportFailureReason: this.upstreamTransportFailureReason,
      grpcStatus: this.grpcStatus,
      bytesReceived: this.bytesReceived,
      bytesSent: this.bytesSent,
      requestSize: this.requestHeaderBytes + this.bytesReceived,
      responseSize: this.responseHeaderBytes + this.bytesSent,
      upstreamServiceTimeMs: this.upstreamServiceTimeMs,
      upstreamHost: this.upstreamHost,
      upstreamCluster: this.upstreamCluster,
      routeName: this.routeName,
      downstreamLocalAddress: c.localAddress,
      downstreamRemoteAddress: c.remoteAddress,
      sourcePrincipal: c.peerPrincipal,
      localPrincipal: c.localPrincipal,
      source: c.source,
      destinationService: this.destinationService,
      destinationWorkload: this.destinationWorkload,
      destinationPrincipal: this.destinationPrincipal,
    };
    sink(record);
  }
}
