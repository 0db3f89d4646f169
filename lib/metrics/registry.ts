// A small Prometheus registry: counters, gauges and histograms with label sets, rendered in the
// text exposition format (0.0.4). Metric series are kept per label-value tuple, keyed once.
export type Labels = Readonly<Record<string, string>>;

interface Series<V> {
  labels: Labels;
  value: V;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function renderLabels(labels: Labels, extra?: [string, string]): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

/**
 * Label values checked and keyed once, for a hot path that counts the same labels in several
 * metrics declared with the same label names (Istio's 23 TCP labels on opened, closed, sent and
 * received): passing it instead of a plain object skips the per-call check and key building.
 */
export class LabelSet {
  readonly names: readonly string[];
  readonly labels: Labels;
  readonly key: string;

  constructor(names: readonly string[], labels: Labels) {
    const values = labelValues(names, labels, '');
    this.names = names;
    this.labels = orderedLabels(names, values);
    this.key = values.join('\u0000');
  }
}

/** `labels`' values in the order of `names`; a missing or extra label throws (`what` prefixes the message). */
function labelValues(names: readonly string[], labels: Labels, what: string): string[] {
  const values: string[] = [];
  for (const n of names) {
    const v = labels[n];
    if (v === undefined) throw new Error(`${what}missing label ${n}`);
    values.push(v);
  }
  if (Object.keys(labels).length !== names.length) throw new Error(`${what}unexpected labels ${Object.keys(labels).join(',')}`);
  return values;
}

function orderedLabels(names: readonly string[], values: readonly string[]): Labels {
  const ordered: Record<string, string> = {};
  names.forEach((n, i) => (ordered[n] = values[i]!));
  return ordered;
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

abstract class Metric<V> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  protected readonly all = new Map<string, Series<V>>();

  constructor(name: string, help: string, labelNames: readonly string[]) {
    if (!NAME_RE.test(name)) throw new Error(`invalid metric name ${name}`);
    for (const l of labelNames) if (!LABEL_RE.test(l) || l.startsWith('__')) throw new Error(`invalid label name ${l} on ${name}`);
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  /** Labels are ordered as declared; a missing or extra label is a programming error. */
  protected entry(labels: Labels | LabelSet, init: () => V): Series<V> {
    if (labels instanceof LabelSet) {
      if (labels.names !== this.labelNames) throw new Error(`${this.name}: a label set for other label names`);
      let s = this.all.get(labels.key);
      if (!s) {
        s = { labels: labels.labels, value: init() };
        this.all.set(labels.key, s);
      }
      return s;
    }
    const values = labelValues(this.labelNames, labels, `${this.name}: `);
    const key = values.join('\u0000');
    let s = this.all.get(key);
    if (!s) {
      s = { labels: orderedLabels(this.labelNames, values), value: init() };
      this.all.set(key, s);
    }
    return s;
  }

  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  abstract renderSeries(): string[];

  render(): string {
    return [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`, ...this.renderSeries()].join('\n');
  }
}

export class Counter extends Metric<number> {
  readonly type = 'counter' as const;

  inc(labels: Labels | LabelSet = {}, by = 1): void {
    if (by < 0) throw new Error(`${this.name}: counters only go up`);
    this.entry(labels, () => 0).value += by;
  }

  get(labels: Labels = {}): number {
    return this.entry(labels, () => 0).value;
  }

  override renderSeries(): string[] {
    return [...this.all.values()].map((s) => `${this.name}${renderLabels(s.labels)} ${formatNumber(s.value)}`);
  }
}

export class Gauge extends Metric<number> {
  readonly type = 'gauge' as const;

  set(labels: Labels, v: number): void {
    this.entry(labels, () => 0).value = v;
  }

  inc(labels: Labels | LabelSet = {}, by = 1): void {
    this.entry(labels, () => 0).value += by;
  }

  dec(labels: Labels = {}, by = 1): void {
    this.entry(labels, () => 0).value -= by;
  }

  get(labels: Labels = {}): number {
    return this.entry(labels, () => 0).value;
  }

  override renderSeries(): string[] {
    return [...this.all.values()].map((s) => `${this.name}${renderLabels(s.labels)} ${formatNumber(s.value)}`);
  }
}

interface HistogramValue {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Metric<HistogramValue> {
  readonly type = 'histogram' as const;
  readonly buckets: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, labelNames);
    this.buckets = [...buckets].sort((a, b) => a - b);
  }

  observe(labels: Labels | LabelSet, v: number): void {
    const s = this.entry(labels, () => ({ counts: this.buckets.map(() => 0), sum: 0, count: 0 })).value;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]!) s.counts[i]!++;
    s.sum += v;
    s.count++;
  }

  override renderSeries(): string[] {
    const out: string[] = [];
    for (const s of this.all.values()) {
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${renderLabels(s.labels, ['le', formatNumber(b)])} ${s.value.counts[i]}`));
      out.push(`${this.name}_bucket${renderLabels(s.labels, ['le', '+Inf'])} ${s.value.count}`);
      out.push(`${this.name}_sum${renderLabels(s.labels)} ${formatNumber(s.value.sum)}`);
      out.push(`${this.name}_count${renderLabels(s.labels)} ${s.value.count}`);
    }
    return out;
  }
}

/** One registry per process; components register their metrics at start-up. */
export class Registry {
  private readonly metrics = new Map<string, Metric<unknown>>();
  private readonly collectors: (() => void)[] = [];

  private add<M extends Metric<never>>(m: M): M {
    if (this.metrics.has(m.name)) throw new Error(`metric ${m.name} registered twice`);
    this.metrics.set(m.name, m as unknown as Metric<unknown>);
    return m;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, labelNames) as never);
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.add(new Gauge(name, help, labelNames) as never);
  }

  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, labelNames, buckets) as never);
  }

  /** `collect` runs before every render, to set gauges read from elsewhere (the process, V8). */
  onCollect(collect: () => void): void {
    this.collectors.push(collect);
  }

  /** Prometheus text format, served on /metrics and /stats/prometheus. */
  render(): string {
    for (const c of this.collectors) c();
    return `${[...this.metrics.values()].map((m) => m.render()).join('\n')}\n`;
  }
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
