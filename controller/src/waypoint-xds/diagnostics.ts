// What translating traffic objects found wrong or had to leave out, per object: the controller logs
// each once, counts them in a metric, and route status reports them on HTTPRoute/GRPCRoute. A
// problem never stops the rest of the configuration from being built.
export type TrafficObjectKind = 'VirtualService' | 'DestinationRule' | 'HTTPRoute' | 'GRPCRoute';

export interface TrafficDiagnostic {
  kind: TrafficObjectKind;
  namespace: string;
  name: string;
  /** `refused`: that part is not in the configuration; `warning`: it is, with the noted difference. */
  severity: 'refused' | 'warning';
  /** A short stable word for metrics: `invalid-regex`, `unknown-subset`, `missing-service`, `unsupported-field`, … */
  reason: string;
  message: string;
}

/** Collects diagnostics of one build, each distinct one once (the same object is translated per port). */
export class DiagnosticSink {
  readonly #seen = new Map<string, TrafficDiagnostic>();

  add(d: TrafficDiagnostic): void {
    const key = `${d.kind}/${d.namespace}/${d.name}/${d.reason}/${d.message}`;
    if (!this.#seen.has(key)) this.#seen.set(key, d);
  }

  get list(): TrafficDiagnostic[] {
    return [...this.#seen.values()];
  }
}
