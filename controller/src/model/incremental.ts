// The workload-xDS resource set kept up to date one object change at a time (issue 13): the same
// resources buildResourceSet makes from a whole snapshot, but a change rebuilds only what it touches.
// Objects are held by reference (the informer's own), with the indexes the builders would otherwise
// scan for: pods by namespace, label, node and waypoint reference; Services by selector and
// waypoint; EndpointSlices by the pods and Service they name; selector AuthorizationPolicies by
// namespace and selector. A change marks what depends on it (using the indexes as they were before
// and after it), and flush() rebuilds the marked resources, keeping an unchanged resource's entry
// (and so its version). Dependencies hard to follow precisely are rebuilt per namespace: a
// PeerAuthentication rebuilds its namespace's workloads, one in the root namespace every workload
// when it changes the mesh-wide mode. reset() is the full rebuild (startup, tests), giving what
// buildResourceSet gives; the property test in incremental.test.ts holds the two equal.
import type { V1EndpointSlice, V1Namespace, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from '../../../lib/proto/index.ts';
import { convertAuthorizationPolicy, selectorPoliciesForWorkload, type SelectorPolicyRef } from './authorization.ts';
import type { Gateway, GatewayClass } from './gateway-types.ts';
import type { AuthorizationPolicy, PeerAuthentication } from './istio-types.ts';
import { GATEWAY_NAME_LABEL, matchLabelsSelect, SERVICE_NAME_LABEL, type Labels } from './labels.ts';
import type { ModelOptions } from './options.ts';
import { convertPeerAuthentication, inheritedMode, peerAuthenticationPoliciesForWorkload, staticStrictPolicy } from './peer-authentication.ts';
import {
  authorizationResource,
  authorizationResourceName,
  serviceResource,
  workloadResource,
  type ModelDiagnostic,
  type ModelSnapshot,
  type ResourceSet,
  type XdsResourceEntry,
} from './resources.ts';
import { buildService, namespacedHostname, serviceHostname } from './services.ts';
import { waypointInfoFromGateway } from './waypoint-gateways.ts';
import { waypointReference, type WaypointInfo, type WaypointLookup } from './waypoints.ts';
import { buildWorkload, nodeLocality, podUid } from './workloads.ts';

/** The kinds the model reads, with their object types. */
export interface ModelObjects {
  Pod: V1Pod;
  Service: V1Service;
  Namespace: V1Namespace;
  Node: V1Node;
  EndpointSlice: V1EndpointSlice;
  AuthorizationPolicy: AuthorizationPolicy;
  PeerAuthentication: PeerAuthentication;
  Gateway: Gateway;
  GatewayClass: GatewayClass;
}

export type ModelObjectKind = keyof ModelObjects;

/** One informer event: the object as it is now, or as it was when deleted. */
export type ModelChange = { [K in ModelObjectKind]: { kind: K; object: ModelObjects[K]; deleted: boolean } }[ModelObjectKind];

/** What one flush changed, per type URL: names added or changed, and names removed. */
export interface TypeChanges {
  updated: Set<string>;
  removed: Set<string>;
}
export type ResourceChanges = Map<string, TypeChanges>;

/** Builder calls one flush made (the cost of a change). */
export interface BuildCounts {
  workloads: number;
  services: number;
  authorizationPolicies: number;
  peerAuthentications: number;
}

export interface ModelUpdate {
  changes: ResourceChanges;
  built: BuildCounts;
  /** Diagnostics of the objects this update rebuilt (all of them after reset()). */
  diagnostics: ModelDiagnostic[];
}

const SCOPED_KINDS: ReadonlySet<ModelObjectKind> = new Set(['Pod', 'Service', 'EndpointSlice', 'AuthorizationPolicy', 'PeerAuthentication', 'Gateway']);

/** `ns/name` for namespaced kinds, `name` for cluster-scoped ones. */
export function modelObjectKey(kind: ModelObjectKind, meta: { namespace?: string; name?: string } | undefined): string {
  return SCOPED_KINDS.has(kind) ? `${meta?.namespace ?? ''}/${meta?.name ?? ''}` : (meta?.name ?? '');
}

function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

function addTo<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
}

function removeFrom<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(v);
  if (s.size === 0) m.delete(k);
}

const pair = (k: string, v: string): string => `${k}\u0000${v}`;

/**
 * Ids with a matchLabels selector, found from a label set without scanning them all: each selector
 * is filed under one of its pairs (its anchor), empty ones under "matches everything".
 */
class SelectorIndex {
  readonly #byAnchor = new Map<string, Set<string>>();
  readonly #matchAll = new Set<string>();
  readonly #selectors = new Map<string, { selector: Labels; anchor: string | undefined }>();

  get size(): number {
    return this.#selectors.size;
  }

  set(id: string, selector: Labels): void {
    this.delete(id);
    const first = Object.entries(selector)[0];
    const anchor = first ? pair(first[0], first[1]) : undefined;
    this.#selectors.set(id, { selector, anchor });
    if (anchor === undefined) this.#matchAll.add(id);
    else addTo(this.#byAnchor, anchor, id);
  }

  delete(id: string): void {
    const e = this.#selectors.get(id);
    if (!e) return;
    this.#selectors.delete(id);
    if (e.anchor === undefined) this.#matchAll.delete(id);
    else removeFrom(this.#byAnchor, e.anchor, id);
  }

  /** The ids whose selector picks `labels`. */
  matching(labels: Labels | undefined, out: Set<string> = new Set()): Set<string> {
    for (const id of this.#matchAll) out.add(id);
    for (const [k, v] of Object.entries(labels ?? {})) {
      for (const id of this.#byAnchor.get(pair(k, v)) ?? []) if (matchLabelsSelect(this.#selectors.get(id)!.selector, labels)) out.add(id);
    }
    return out;
  }
}

/** Pods of one namespace by label pair, to find what a selector picks from its smallest pair. */
class LabelIndex {
  readonly all = new Set<string>();
  readonly #byPair = new Map<string, Set<string>>();

  add(id: string, labels: Labels | undefined): void {
    this.all.add(id);
    for (const [k, v] of Object.entries(labels ?? {})) addTo(this.#byPair, pair(k, v), id);
  }

  remove(id: string, labels: Labels | undefined): void {
    this.all.delete(id);
    for (const [k, v] of Object.entries(labels ?? {})) removeFrom(this.#byPair, pair(k, v), id);
  }

  /** Ids whose labels contain every pair of `selector` (an empty one: all), given their labels. */
  select(selector: Labels, labelsOf: (id: string) => Labels | undefined, out: Set<string>): void {
    let smallest: Set<string> | undefined = this.all;
    for (const [k, v] of Object.entries(selector)) {
      const s = this.#byPair.get(pair(k, v));
      if (!s) return;
      if (smallest === this.all || s.size < smallest.size) smallest = s;
    }
    for (const id of smallest) if (matchLabelsSelect(selector, labelsOf(id))) out.add(id);
  }
}

interface PodRecord {
  pod: V1Pod;
  namespace: string;
  labels: Labels | undefined;
  nodeName: string;
  /** `ns/name` of the waypoint its labels or its namespace's name. */
  waypointRef: string | undefined;
  /** `ns/name` of the Gateway its gateway-name label names (waypoint instances). */
  gatewayRef: string | undefined;
}

interface ServiceRecord {
  service: V1Service;
  namespace: string;
  /** buildService accepts it (depends on the Service alone): only those are pods' Services. */
  sent: boolean;
  /** What pods' Workloads read of it; equal projection, no Workload to rebuild. */
  projection: string;
  waypointRef: string | undefined;
  diagnostic: ModelDiagnostic | undefined;
}

interface SliceRecord {
  slice: V1EndpointSlice;
  podKeys: string[];
  serviceKey: string | undefined;
}

interface PolicyRecord {
  namespace: string;
  ref: SelectorPolicyRef | undefined;
  entry: XdsResourceEntry | undefined;
  diagnostics: ModelDiagnostic[];
}

function emptyCounts(): BuildCounts {
  return { workloads: 0, services: 0, authorizationPolicies: 0, peerAuthentications: 0 };
}

export class IncrementalModel {
  readonly #options: ModelOptions;
  readonly #addresses = new Map<string, XdsResourceEntry>();
  readonly #authorizations = new Map<string, XdsResourceEntry>();
  readonly #resources: ResourceSet = new Map([
    [ADDRESS_TYPE_URL, this.#addresses],
    [AUTHORIZATION_TYPE_URL, this.#authorizations],
  ]);
  readonly #staticStrict: XdsResourceEntry;
  readonly #staticStrictName: string;

  #namespaces = new Map<string, V1Namespace>();
  #nodes = new Map<string, V1Node>();
  #pods = new Map<string, PodRecord>();
  #podLabels = new Map<string, LabelIndex>();
  #podsByNode = new Map<string, Set<string>>();
  #podsByWaypoint = new Map<string, Set<string>>();
  #podsByGateway = new Map<string, Set<string>>();
  #services = new Map<string, ServiceRecord>();
  #servicesByNs = new Map<string, Set<string>>();
  #serviceSelectors = new Map<string, SelectorIndex>();
  #servicesByWaypoint = new Map<string, Set<string>>();
  #slices = new Map<string, SliceRecord>();
  #slicesByPod = new Map<string, Set<string>>();
  #slicesByService = new Map<string, Set<string>>();
  #policies = new Map<string, PolicyRecord>();
  #policyRefs = new Map<string, SelectorIndex>();
  #peerAuths = new Map<string, Map<string, PeerAuthentication>>();
  #peerAuthCount = 0;
  /** Authorization name → entry made from PeerAuthentications (wins over an AuthorizationPolicy of the same name, as in buildResourceSet). */
  #peerAuthEntries = new Map<string, XdsResourceEntry>();
  #peerAuthNamesByNs = new Map<string, Set<string>>();
  #gateways = new Map<string, Gateway>();
  #gatewaysByClass = new Map<string, Set<string>>();
  #gatewayClasses = new Map<string, GatewayClass>();
  #waypointInfos = new Map<string, { info: WaypointInfo; json: string }>();
  /** A fixed lookup from ModelSnapshot.waypoints (tests): Gateways are then not consulted. */
  #fixedWaypoints: WaypointLookup | undefined;
  readonly #lookup: WaypointLookup = (ns, name) => (this.#fixedWaypoints ? this.#fixedWaypoints(ns, name) : this.#waypointInfos.get(`${ns}/${name}`)?.info);

  #dirtyPods = new Set<string>();
  #dirtyServices = new Set<string>();
  #dirtyAuthorizations = new Set<string>();
  #touchedDiagnostics: ModelDiagnostic[] = [];
  #built = emptyCounts();

  constructor(options: ModelOptions) {
    this.#options = options;
    const s = staticStrictPolicy(options.rootNamespace);
    this.#staticStrict = authorizationResource(s);
    this.#staticStrictName = authorizationResourceName(s);
  }

  /** The live resource set: type URL → name → entry, changed in place by apply()/reset(). */
  get resources(): ResourceSet {
    return this.#resources;
  }

  /** Every current diagnostic: AuthorizationPolicies', then Services'. */
  diagnostics(): ModelDiagnostic[] {
    const out: ModelDiagnostic[] = [];
    for (const p of this.#policies.values()) out.push(...p.diagnostics);
    for (const s of this.#services.values()) if (s.diagnostic) out.push(s.diagnostic);
    return out;
  }

  /** Replaces all state with `snapshot` and rebuilds everything; resources equal to before keep their entries. */
  reset(snapshot: ModelSnapshot): ModelUpdate {
    this.#clearState();
    this.#fixedWaypoints = snapshot.waypoints;
    // Dependencies first, so adding them marks nothing yet to be added.
    for (const n of snapshot.namespaces) this.#applyNamespace(n, false);
    for (const n of snapshot.nodes ?? []) this.#applyNode(n, false);
    if (snapshot.gateways) {
      for (const c of snapshot.gatewayClasses ?? []) this.#applyGatewayClass(c, false);
      for (const g of snapshot.gateways) this.#applyGateway(g, false);
    }
    for (const p of snapshot.peerAuthentications ?? []) this.#applyPeerAuthentication(p, false);
    for (const p of snapshot.authorizationPolicies ?? []) this.#applyAuthorizationPolicy(p, false);
    for (const s of snapshot.services) this.#applyService(s, false);
    for (const s of snapshot.endpointSlices ?? []) this.#applySlice(s, false);
    for (const p of snapshot.pods) this.#applyPod(p, false);
    return this.#flush(true);
  }

  /** Applies informer events (in order) and rebuilds what they touch. */
  apply(changes: Iterable<ModelChange>): ModelUpdate {
    for (const c of changes) {
      switch (c.kind) {
        case 'Pod':
          this.#applyPod(c.object, c.deleted);
          break;
        case 'Service':
          this.#applyService(c.object, c.deleted);
          break;
        case 'Namespace':
          this.#applyNamespace(c.object, c.deleted);
          break;
        case 'Node':
          this.#applyNode(c.object, c.deleted);
          break;
        case 'EndpointSlice':
          this.#applySlice(c.object, c.deleted);
          break;
        case 'AuthorizationPolicy':
          this.#applyAuthorizationPolicy(c.object, c.deleted);
          break;
        case 'PeerAuthentication':
          this.#applyPeerAuthentication(c.object, c.deleted);
          break;
        case 'Gateway':
          this.#applyGateway(c.object, c.deleted);
          break;
        case 'GatewayClass':
          this.#applyGatewayClass(c.object, c.deleted);
          break;
      }
    }
    return this.#flush(false);
  }

  #clearState(): void {
    this.#namespaces = new Map();
    this.#nodes = new Map();
    this.#pods = new Map();
    this.#podLabels = new Map();
    this.#podsByNode = new Map();
    this.#podsByWaypoint = new Map();
    this.#podsByGateway = new Map();
    this.#services = new Map();
    this.#servicesByNs = new Map();
    this.#serviceSelectors = new Map();
    this.#servicesByWaypoint = new Map();
    this.#slices = new Map();
    this.#slicesByPod = new Map();
    this.#slicesByService = new Map();
    this.#policies = new Map();
    this.#policyRefs = new Map();
    this.#peerAuths = new Map();
    this.#peerAuthCount = 0;
    this.#peerAuthEntries = new Map();
    this.#peerAuthNamesByNs = new Map();
    this.#gateways = new Map();
    this.#gatewaysByClass = new Map();
    this.#gatewayClasses = new Map();
    this.#waypointInfos = new Map();
    this.#fixedWaypoints = undefined;
    this.#dirtyPods = new Set();
    this.#dirtyServices = new Set();
    this.#dirtyAuthorizations = new Set();
  }

  // ---- pods

  #waypointRefOf(meta: { namespace?: string; labels?: Record<string, string> } | undefined, namespace: string): string | undefined {
    const ref = waypointReference(meta ?? {}, this.#namespaces.get(namespace));
    return ref ? `${ref.namespace}/${ref.name}` : undefined;
  }

  #indexPod(key: string, rec: PodRecord): void {
    let li = this.#podLabels.get(rec.namespace);
    if (!li) this.#podLabels.set(rec.namespace, (li = new LabelIndex()));
    li.add(key, rec.labels);
    addTo(this.#podsByNode, rec.nodeName, key);
    if (rec.waypointRef) addTo(this.#podsByWaypoint, rec.waypointRef, key);
    if (rec.gatewayRef) addTo(this.#podsByGateway, rec.gatewayRef, key);
  }

  #unindexPod(key: string, rec: PodRecord): void {
    const li = this.#podLabels.get(rec.namespace);
    li?.remove(key, rec.labels);
    if (li?.all.size === 0) this.#podLabels.delete(rec.namespace);
    removeFrom(this.#podsByNode, rec.nodeName, key);
    if (rec.waypointRef) removeFrom(this.#podsByWaypoint, rec.waypointRef, key);
    if (rec.gatewayRef) removeFrom(this.#podsByGateway, rec.gatewayRef, key);
  }

  #applyPod(pod: V1Pod, deleted: boolean): void {
    const key = modelObjectKey('Pod', pod.metadata);
    const old = this.#pods.get(key);
    if (old) {
      this.#unindexPod(key, old);
      this.#pods.delete(key);
    }
    this.#dirtyPods.add(key);
    if (deleted) return;
    const namespace = pod.metadata?.namespace ?? '';
    const labels = pod.metadata?.labels;
    const gatewayName = labels?.[GATEWAY_NAME_LABEL];
    const rec: PodRecord = {
      pod,
      namespace,
      labels,
      nodeName: pod.spec?.nodeName ?? '',
      waypointRef: this.#waypointRefOf(pod.metadata, namespace),
      gatewayRef: gatewayName ? `${namespace}/${gatewayName}` : undefined,
    };
    this.#pods.set(key, rec);
    this.#indexPod(key, rec);
  }

  /** Marks the pods a matchLabels selector picks: in `namespace`, or in every namespace (`undefined`). */
  #markPodsSelected(namespace: string | undefined, selector: Labels): void {
    const labelsOf = (id: string) => this.#pods.get(id)?.labels;
    if (namespace !== undefined) this.#podLabels.get(namespace)?.select(selector, labelsOf, this.#dirtyPods);
    else for (const li of this.#podLabels.values()) li.select(selector, labelsOf, this.#dirtyPods);
  }

  #markPodsOfNamespace(namespace: string): void {
    for (const k of this.#podLabels.get(namespace)?.all ?? []) this.#dirtyPods.add(k);
  }

  #markAllPods(): void {
    for (const k of this.#pods.keys()) this.#dirtyPods.add(k);
  }

  // ---- namespaces and nodes

  #applyNamespace(ns: V1Namespace, deleted: boolean): void {
    const name = ns.metadata?.name ?? '';
    if (deleted) this.#namespaces.delete(name);
    else this.#namespaces.set(name, ns);
    // Its labels decide the waypoint of every pod and Service in it that names none itself.
    for (const k of this.#podLabels.get(name)?.all ?? []) {
      const rec = this.#pods.get(k)!;
      if (rec.waypointRef) removeFrom(this.#podsByWaypoint, rec.waypointRef, k);
      rec.waypointRef = this.#waypointRefOf(rec.pod.metadata, name);
      if (rec.waypointRef) addTo(this.#podsByWaypoint, rec.waypointRef, k);
      this.#dirtyPods.add(k);
    }
    for (const k of this.#servicesByNs.get(name) ?? []) {
      const rec = this.#services.get(k)!;
      if (rec.waypointRef) removeFrom(this.#servicesByWaypoint, rec.waypointRef, k);
      rec.waypointRef = this.#waypointRefOf(rec.service.metadata, name);
      if (rec.waypointRef) addTo(this.#servicesByWaypoint, rec.waypointRef, k);
      this.#dirtyServices.add(k);
    }
  }

  #applyNode(node: V1Node, deleted: boolean): void {
    const name = node.metadata?.name ?? '';
    const before = JSON.stringify(nodeLocality(this.#nodes.get(name)) ?? null);
    if (deleted) this.#nodes.delete(name);
    else this.#nodes.set(name, node);
    if (JSON.stringify(nodeLocality(this.#nodes.get(name)) ?? null) === before) return;
    for (const k of this.#podsByNode.get(name) ?? []) this.#dirtyPods.add(k);
  }

  // ---- services and endpoint slices

  #serviceProjection(svc: V1Service, sent: boolean): string {
    if (!sent) return '';
    return JSON.stringify([svc.spec?.selector ?? null, (svc.spec?.ports ?? []).map((p) => [p.port, p.targetPort ?? null])]);
  }

  #markPodsOfService(key: string, rec: ServiceRecord | undefined): void {
    if (!rec) return;
    const selector = rec.service.spec?.selector;
    if (selector && Object.keys(selector).length > 0) this.#markPodsSelected(rec.namespace, selector);
    for (const sk of this.#slicesByService.get(key) ?? []) for (const pk of this.#slices.get(sk)?.podKeys ?? []) this.#dirtyPods.add(pk);
  }

  #applyService(svc: V1Service, deleted: boolean): void {
    const key = modelObjectKey('Service', svc.metadata);
    const namespace = svc.metadata?.namespace ?? '';
    const old = this.#services.get(key);
    let rec: ServiceRecord | undefined;
    if (!deleted) {
      // Whether it is sent depends on the Service alone (ExternalName, unparsable cluster IPs).
      const sent = buildService(svc, {}, this.#options).ok;
      rec = { service: svc, namespace, sent, projection: this.#serviceProjection(svc, sent), waypointRef: this.#waypointRefOf(svc.metadata, namespace), diagnostic: undefined };
    }
    if (old?.projection !== rec?.projection || (old === undefined) !== (rec === undefined)) {
      this.#markPodsOfService(key, old);
      this.#markPodsOfService(key, rec);
    }
    if (old) {
      if (old.waypointRef) removeFrom(this.#servicesByWaypoint, old.waypointRef, key);
      this.#serviceSelectors.get(namespace)?.delete(key);
      removeFrom(this.#servicesByNs, namespace, key);
      this.#services.delete(key);
    }
    this.#dirtyServices.add(key);
    if (!rec) return;
    this.#services.set(key, rec);
    addTo(this.#servicesByNs, namespace, key);
    if (rec.waypointRef) addTo(this.#servicesByWaypoint, rec.waypointRef, key);
    const selector = svc.spec?.selector;
    if (rec.sent && selector && Object.keys(selector).length > 0) {
      let idx = this.#serviceSelectors.get(namespace);
      if (!idx) this.#serviceSelectors.set(namespace, (idx = new SelectorIndex()));
      idx.set(key, selector);
    }
  }

  #applySlice(slice: V1EndpointSlice, deleted: boolean): void {
    const key = modelObjectKey('EndpointSlice', slice.metadata);
    const old = this.#slices.get(key);
    if (old) {
      for (const pk of old.podKeys) {
        removeFrom(this.#slicesByPod, pk, key);
        this.#dirtyPods.add(pk);
      }
      if (old.serviceKey) removeFrom(this.#slicesByService, old.serviceKey, key);
      this.#slices.delete(key);
    }
    if (deleted) return;
    const namespace = slice.metadata?.namespace ?? '';
    const podKeys = new Set<string>();
    for (const e of slice.endpoints ?? []) {
      const r = e.targetRef;
      // servicesOfPod only counts references to a pod of the slice's own namespace.
      if (r?.kind === 'Pod' && r.namespace === namespace) podKeys.add(`${namespace}/${r.name ?? ''}`);
    }
    const svcName = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    const rec: SliceRecord = { slice, podKeys: [...podKeys], serviceKey: svcName === undefined ? undefined : `${namespace}/${svcName}` };
    this.#slices.set(key, rec);
    for (const pk of rec.podKeys) {
      addTo(this.#slicesByPod, pk, key);
      this.#dirtyPods.add(pk);
    }
    if (rec.serviceKey) addTo(this.#slicesByService, rec.serviceKey, key);
  }

  // ---- authorization

  #markPodsOfPolicyRef(ref: SelectorPolicyRef | undefined): void {
    if (!ref) return;
    this.#markPodsSelected(ref.namespace === this.#options.rootNamespace ? undefined : ref.namespace, ref.matchLabels);
  }

  #applyAuthorizationPolicy(policy: AuthorizationPolicy, deleted: boolean): void {
    const key = modelObjectKey('AuthorizationPolicy', policy.metadata);
    const namespace = policy.metadata.namespace ?? '';
    const name = policy.metadata.name ?? '';
    const old = this.#policies.get(key);
    let rec: PolicyRecord | undefined;
    if (!deleted) {
      this.#built.authorizationPolicies++;
      const r = convertAuthorizationPolicy(policy, this.#options);
      const where = { kind: 'AuthorizationPolicy' as const, namespace, name };
      rec = { namespace, ref: undefined, entry: undefined, diagnostics: [] };
      if (r.kind === 'refused') rec.diagnostics.push({ ...where, severity: 'refused', message: r.message });
      if (r.kind === 'converted') {
        for (const w of r.warnings) rec.diagnostics.push({ ...where, severity: 'warning', message: w });
        rec.entry = authorizationResource(r.authorization);
        const selector = policy.spec?.selector;
        if (selector) rec.ref = { namespace, name, matchLabels: selector.matchLabels ?? {} };
      }
      this.#touchedDiagnostics.push(...rec.diagnostics);
    }
    const refJson = (p: PolicyRecord | undefined) => (p?.ref ? JSON.stringify(p.ref.matchLabels) : undefined);
    if (refJson(old) !== refJson(rec)) {
      this.#markPodsOfPolicyRef(old?.ref);
      this.#markPodsOfPolicyRef(rec?.ref);
    }
    if (old?.ref) this.#policyRefs.get(old.namespace)?.delete(key);
    if (rec) this.#policies.set(key, rec);
    else this.#policies.delete(key);
    if (rec?.ref) {
      let idx = this.#policyRefs.get(namespace);
      if (!idx) this.#policyRefs.set(namespace, (idx = new SelectorIndex()));
      idx.set(key, rec.ref.matchLabels);
    }
    this.#dirtyAuthorizations.add(key);
  }

  #peerAuthsFor(namespace: string): PeerAuthentication[] {
    const root = this.#options.rootNamespace;
    const out = [...(this.#peerAuths.get(root)?.values() ?? [])];
    if (namespace !== root) out.push(...(this.#peerAuths.get(namespace)?.values() ?? []));
    return out;
  }

  #meshStrict(): boolean {
    const root = this.#options.rootNamespace;
    return inheritedMode(this.#peerAuthsFor(root), root, root).strict;
  }

  /** Re-converts the workload PeerAuthentications of one namespace (they depend on its and the mesh's mode). */
  #convertPeerAuthNamespace(namespace: string): void {
    for (const n of this.#peerAuthNamesByNs.get(namespace) ?? []) {
      this.#peerAuthEntries.delete(n);
      this.#dirtyAuthorizations.add(n);
    }
    this.#peerAuthNamesByNs.delete(namespace);
    const own = this.#peerAuths.get(namespace);
    if (!own) return;
    const all = this.#peerAuthsFor(namespace);
    for (const pa of own.values()) {
      this.#built.peerAuthentications++;
      const a = convertPeerAuthentication(pa, all, this.#options);
      if (!a) continue;
      const n = authorizationResourceName(a);
      this.#peerAuthEntries.set(n, authorizationResource(a));
      addTo(this.#peerAuthNamesByNs, namespace, n);
      this.#dirtyAuthorizations.add(n);
    }
  }

  #applyPeerAuthentication(pa: PeerAuthentication, deleted: boolean): void {
    const key = modelObjectKey('PeerAuthentication', pa.metadata);
    const namespace = pa.metadata.namespace ?? '';
    const root = this.#options.rootNamespace;
    const meshBefore = namespace === root ? this.#meshStrict() : undefined;
    let own = this.#peerAuths.get(namespace);
    if (own?.delete(key)) this.#peerAuthCount--;
    if (!deleted) {
      if (!own) this.#peerAuths.set(namespace, (own = new Map()));
      own.set(key, pa);
      this.#peerAuthCount++;
    }
    if (own?.size === 0) this.#peerAuths.delete(namespace);
    // The static STRICT policy exists whenever any PeerAuthentication does.
    if (this.#peerAuthCount > 0) this.#peerAuthEntries.set(this.#staticStrictName, this.#staticStrict);
    else this.#peerAuthEntries.delete(this.#staticStrictName);
    this.#dirtyAuthorizations.add(this.#staticStrictName);
    if (namespace !== root) {
      this.#convertPeerAuthNamespace(namespace);
      this.#markPodsOfNamespace(namespace);
      return;
    }
    // In the root namespace only the mesh-wide mode matters to others (its selector PAs are ignored).
    if (this.#meshStrict() === meshBefore) return;
    for (const ns of [...this.#peerAuths.keys()]) if (ns !== root) this.#convertPeerAuthNamespace(ns);
    this.#markAllPods();
  }

  // ---- waypoints

  #recomputeWaypoint(key: string): void {
    const gw = this.#gateways.get(key);
    const info = gw ? waypointInfoFromGateway(gw, this.#gatewayClasses.get(gw.spec?.gatewayClassName ?? '')) : undefined;
    const json = info ? JSON.stringify(info) : undefined;
    if (json === this.#waypointInfos.get(key)?.json) return;
    if (info && json) this.#waypointInfos.set(key, { info, json });
    else this.#waypointInfos.delete(key);
    if (this.#fixedWaypoints) return;
    for (const k of this.#podsByWaypoint.get(key) ?? []) this.#dirtyPods.add(k);
    for (const k of this.#podsByGateway.get(key) ?? []) this.#dirtyPods.add(k);
    for (const k of this.#servicesByWaypoint.get(key) ?? []) this.#dirtyServices.add(k);
  }

  #applyGateway(gw: Gateway, deleted: boolean): void {
    const key = modelObjectKey('Gateway', gw.metadata);
    const old = this.#gateways.get(key);
    if (old) removeFrom(this.#gatewaysByClass, old.spec?.gatewayClassName ?? '', key);
    if (deleted) this.#gateways.delete(key);
    else {
      this.#gateways.set(key, gw);
      addTo(this.#gatewaysByClass, gw.spec?.gatewayClassName ?? '', key);
    }
    this.#recomputeWaypoint(key);
  }

  #applyGatewayClass(gc: GatewayClass, deleted: boolean): void {
    const name = gc.metadata.name ?? '';
    if (deleted) this.#gatewayClasses.delete(name);
    else this.#gatewayClasses.set(name, gc);
    for (const k of this.#gatewaysByClass.get(name) ?? []) this.#recomputeWaypoint(k);
  }

  // ---- building

  #buildPod(key: string, rec: PodRecord): XdsResourceEntry | undefined {
    const ns = rec.namespace;
    const root = this.#options.rootNamespace;
    // The Services that may list it: those whose selector picks it, and those whose slices name it.
    const services = new Set<V1Service>();
    for (const sk of this.#serviceSelectors.get(ns)?.matching(rec.labels) ?? []) services.add(this.#services.get(sk)!.service);
    const slices: V1EndpointSlice[] = [];
    for (const sl of this.#slicesByPod.get(key) ?? []) {
      const s = this.#slices.get(sl)!;
      slices.push(s.slice);
      const svc = s.serviceKey ? this.#services.get(s.serviceKey) : undefined;
      if (svc?.sent) services.add(svc.service);
    }
    const refIds = this.#policyRefs.get(ns)?.matching(rec.labels) ?? new Set<string>();
    if (ns !== root) this.#policyRefs.get(root)?.matching(rec.labels, refIds);
    const refs: SelectorPolicyRef[] = [];
    for (const id of refIds) refs.push(this.#policies.get(id)!.ref!);
    this.#built.workloads++;
    const w = buildWorkload(
      rec.pod,
      {
        namespace: this.#namespaces.get(ns),
        services: [...services],
        endpointSlices: slices,
        node: this.#nodes.get(rec.nodeName),
        authorizationPolicies: [
          ...selectorPoliciesForWorkload(refs, ns, rec.labels, root),
          ...peerAuthenticationPoliciesForWorkload(this.#peerAuthsFor(ns), ns, rec.labels, root),
        ],
        waypoints: this.#lookup,
      },
      this.#options,
    );
    return w ? workloadResource(w) : undefined;
  }

  #buildService(rec: ServiceRecord): XdsResourceEntry | undefined {
    this.#built.services++;
    const svc = rec.service;
    const r = buildService(svc, { namespace: this.#namespaces.get(rec.namespace), waypoints: this.#lookup }, this.#options);
    rec.diagnostic = undefined;
    if (r.ok) return serviceResource(r.service);
    if (r.reason !== 'ExternalName') {
      rec.diagnostic = { kind: 'Service', namespace: rec.namespace, name: svc.metadata?.name ?? '', severity: 'refused', message: r.message };
      this.#touchedDiagnostics.push(rec.diagnostic);
    }
    return undefined;
  }

  #flush(sweep: boolean): ModelUpdate {
    const changes: ResourceChanges = new Map();
    const touched = sweep ? { [ADDRESS_TYPE_URL]: new Set<string>(), [AUTHORIZATION_TYPE_URL]: new Set<string>() } : undefined;
    const put = (typeUrl: string, map: Map<string, XdsResourceEntry>, name: string, next: XdsResourceEntry | undefined) => {
      if (next) touched?.[typeUrl]?.add(name);
      const cur = map.get(name);
      if (cur?.version === next?.version) return;
      let c = changes.get(typeUrl);
      if (!c) changes.set(typeUrl, (c = { updated: new Set(), removed: new Set() }));
      if (next) {
        map.set(name, next);
        c.updated.add(name);
        c.removed.delete(name);
      } else {
        map.delete(name);
        c.removed.add(name);
        c.updated.delete(name);
      }
    };
    for (const name of this.#dirtyAuthorizations) {
      put(AUTHORIZATION_TYPE_URL, this.#authorizations, name, this.#peerAuthEntries.get(name) ?? this.#policies.get(name)?.entry);
    }
    const domain = this.#options.domainSuffix;
    for (const key of this.#dirtyServices) {
      const { namespace, name } = splitKey(key);
      const rec = this.#services.get(key);
      put(ADDRESS_TYPE_URL, this.#addresses, namespacedHostname(namespace, serviceHostname(name, namespace, domain)), rec ? this.#buildService(rec) : undefined);
    }
    for (const key of this.#dirtyPods) {
      const { namespace, name } = splitKey(key);
      const rec = this.#pods.get(key);
      put(ADDRESS_TYPE_URL, this.#addresses, podUid(this.#options.clusterId, namespace, name), rec ? this.#buildPod(key, rec) : undefined);
    }
    if (touched) {
      for (const [typeUrl, map] of this.#resources) for (const name of [...map.keys()]) if (!touched[typeUrl]?.has(name)) put(typeUrl, map, name, undefined);
    }
    const update: ModelUpdate = { changes, built: this.#built, diagnostics: sweep ? this.diagnostics() : this.#touchedDiagnostics };
    this.#dirtyPods = new Set();
    this.#dirtyServices = new Set();
    this.#dirtyAuthorizations = new Set();
    this.#touchedDiagnostics = [];
    this.#built = emptyCounts();
    return update;
  }
}
