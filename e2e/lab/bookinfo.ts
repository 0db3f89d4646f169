// The Bookinfo-shaped sample as Kubernetes manifests (pure YAML text): namespace, one ServiceAccount
// per service (`bookinfo-<svc>`), Services `details`, `ratings`, `reviews`, `productpage` (port 9080
// named `http`), Deployments productpage-v1, details-v1, reviews-v1/v2/v3 and ratings-v1 of the
// lab/bookinfo-* images, and a `sleep` client pod. The lab has no cluster DNS, so the services find
// each other by Service ClusterIP: apply `bookinfoServices` first, read the addresses, then
// `bookinfoWorkloads` with them (the images take `<NAME>_HOSTNAME` as real Bookinfo does).

export const BOOKINFO_SERVICES = ['details', 'ratings', 'reviews', 'productpage'] as const;
export type BookinfoService = (typeof BOOKINFO_SERVICES)[number];

/** The Deployments: name → service and version. */
export const BOOKINFO_DEPLOYMENTS: readonly { name: string; app: BookinfoService; version: string }[] = [
  { name: 'details-v1', app: 'details', version: 'v1' },
  { name: 'ratings-v1', app: 'ratings', version: 'v1' },
  { name: 'reviews-v1', app: 'reviews', version: 'v1' },
  { name: 'reviews-v2', app: 'reviews', version: 'v2' },
  { name: 'reviews-v3', app: 'reviews', version: 'v3' },
  { name: 'productpage-v1', app: 'productpage', version: 'v1' },
];

export interface BookinfoOptions {
  /** Namespace labels, e.g. `{ 'istio.io/dataplane-mode': 'ambient' }`. */
  namespaceLabels?: Record<string, string>;
  /** Extra env per Deployment name (e.g. a faulty ratings). */
  env?: Record<string, Record<string, string>>;
}

function labelsYaml(labels: Record<string, string> | undefined): string {
  const entries = Object.entries(labels ?? {});
  return entries.length ? `, labels: { ${entries.map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(', ')} }` : '';
}

/** Namespace, ServiceAccounts and Services (apply first: the workloads need the Services' addresses). */
export function bookinfoServices(namespace: string, opts: BookinfoOptions = {}): string {
  const docs = [
    `apiVersion: v1
kind: Namespace
metadata: { name: ${namespace}${labelsYaml(opts.namespaceLabels)} }`,
    ...BOOKINFO_SERVICES.map((svc) => `apiVersion: v1
kind: ServiceAccount
metadata: { name: bookinfo-${svc}, namespace: ${namespace}, labels: { account: ${svc} } }`),
    `apiVersion: v1
kind: ServiceAccount
metadata: { name: sleep, namespace: ${namespace} }`,
    ...BOOKINFO_SERVICES.map((svc) => `apiVersion: v1
kind: Service
metadata: { name: ${svc}, namespace: ${namespace}, labels: { app: ${svc}, service: ${svc} } }
spec:
  selector: { app: ${svc} }
  ports: [{ name: http, port: 9080, targetPort: 9080 }]`),
  ];
  return `${docs.join('\n---\n')}\n`;
}

/** ClusterIPs of details, reviews and ratings, as the callers address them. */
export type BookinfoAddresses = Record<Exclude<BookinfoService, 'productpage'>, string>;

/** Deployments and the sleep pod; `addresses` wires productpage → details/reviews and reviews → ratings. */
export function bookinfoWorkloads(namespace: string, addresses: BookinfoAddresses, opts: BookinfoOptions = {}): string {
  const docs = BOOKINFO_DEPLOYMENTS.map((d) => {
    const env: Record<string, string> = {};
    if (d.app === 'productpage') {
      env.DETAILS_HOSTNAME = addresses.details;
      env.REVIEWS_HOSTNAME = addresses.reviews;
    }
    if (d.app === 'reviews') env.RATINGS_HOSTNAME = addresses.ratings;
    Object.assign(env, opts.env?.[d.name]);
    const envYaml = Object.entries(env).length
      ? `\n        env:\n${Object.entries(env).map(([k, v]) => `        - { name: ${k}, value: ${JSON.stringify(v)} }`).join('\n')}`
      : '';
    return `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${d.name}, namespace: ${namespace}, labels: { app: ${d.app}, version: ${d.version} } }
spec:
  replicas: 1
  selector: { matchLabels: { app: ${d.app}, version: ${d.version} } }
  template:
    metadata: { labels: { app: ${d.app}, version: ${d.version} } }
    spec:
      serviceAccountName: bookinfo-${d.app}
      containers:
      - name: ${d.app}
        image: lab/bookinfo-${d.app}
        ports: [{ containerPort: 9080 }]${envYaml}`;
  });
  docs.push(`apiVersion: v1
kind: Pod
metadata: { name: sleep, namespace: ${namespace}, labels: { app: sleep } }
spec:
  serviceAccountName: sleep
  containers: [{ name: sleep, image: lab/sleep }]`);
  return `${docs.join('\n---\n')}\n`;
}

/** Both halves, for a cluster that has the addresses already (or tests of the text). */
export function bookinfoManifest(namespace: string, addresses: BookinfoAddresses, opts: BookinfoOptions = {}): string {
  return `${bookinfoServices(namespace, opts)}---\n${bookinfoWorkloads(namespace, addresses, opts)}`;
}
