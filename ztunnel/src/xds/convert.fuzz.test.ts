// Fuzzing workload xDS resources (istio.workload.Address, istio.security.Authorization) the way the
// delta client hands them to ztunnel: arbitrary bytes and mutations of real encoded resources, in
// an Any with the right (or a wrong) type URL, through decode, convert and the handlers into a real
// ProxyState. Nothing throws; each refusal names the resource and why (the NACK the client counts in
// xds_client_nacks_total); a refused resource leaves the last good one for its name in force.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzBudget, fuzzParams, wireInput } from '../../../lib/fuzz/fuzz.ts';
import {
  addressCodec,
  ADDRESS_TYPE_URL,
  authorizationCodec,
  AUTHORIZATION_TYPE_URL,
  type Address,
  type Authorization,
  type MessageInput,
} from '../../../lib/proto/index.ts';
import { ProxyState } from '../state/proxy-state.ts';
import { convertAddress, convertAuthorization } from './convert.ts';
import { addressHandler, authorizationHandler } from './handlers.ts';

const budget = fuzzBudget();
const ip = (...b: number[]): Buffer => Buffer.from(b);

const WORKLOAD_UID = 'Kubernetes//Pod/default/echo-1';
const SERVICE_KEY = 'default/echo.default.svc.cluster.local';
const POLICY_KEY = 'default/allow-echo';

const workloadAddress: MessageInput<Address> = {
  type: {
    $case: 'workload',
    workload: {
      uid: WORKLOAD_UID,
      name: 'echo-1',
      namespace: 'default',
      addresses: [ip(10, 244, 1, 5), ip(0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5)],
      network: 'net1',
      node: 'node1',
      tunnelProtocol: 1,
      trustDomain: 'cluster.local',
      serviceAccount: 'echo',
      canonicalName: 'echo',
      canonicalRevision: 'v1',
      workloadName: 'echo',
      workloadType: 2,
      clusterId: 'Kubernetes',
      waypoint: { destination: { $case: 'address', address: { network: 'net1', address: ip(10, 96, 0, 99) } }, hboneMtlsPort: 15008 },
      services: { [SERVICE_KEY]: { ports: [{ servicePort: 80, targetPort: 8080, appProtocol: 1 }] } },
      authorizationPolicies: [POLICY_KEY],
      status: 0,
      locality: { region: 'r', zone: 'z', subzone: 's' },
      capacity: 2,
    },
  },
};

const serviceAddress: MessageInput<Address> = {
  type: {
    $case: 'service',
    service: {
      name: 'echo',
      namespace: 'default',
      hostname: 'echo.default.svc.cluster.local',
      addresses: [{ network: 'net1', address: ip(10, 96, 0, 10) }],
      ports: [{ servicePort: 80, targetPort: 8080 }, { servicePort: 443, targetPort: 0 }],
      subjectAltNames: ['spiffe://cluster.local/ns/default/sa/echo'],
      waypoint: { destination: { $case: 'hostname', hostname: { namespace: 'default', hostname: 'waypoint.default.svc.cluster.local' } }, hboneMtlsPort: 15008 },
      loadBalancing: { routingPreference: [1, 2], mode: 2, healthPolicy: 0 },
      ipFamilies: 1,
    },
  },
};

const authorization: MessageInput<Authorization> = {
  name: 'allow-echo',
  namespace: 'default',
  scope: 2,
  action: 0,
  rules: [
    {
      clauses: [
        { matches: [{ principals: [{ matchType: { $case: 'exact', exact: 'cluster.local/ns/a/sa/b' } }, { matchType: { $case: 'prefix', prefix: 'cluster.local/ns/x/' } }] }] },
        {
          matches: [
            { destinationPorts: [8080], notDestinationPorts: [9090], sourceIps: [{ address: ip(10, 0, 0, 0), length: 8 }] },
            { namespaces: [{ matchType: { $case: 'suffix', suffix: '-prod' } }], serviceAccounts: [{ namespace: 'a', serviceAccount: 'b' }] },
          ],
        },
      ],
    },
  ],
};

const ADDRESS_SEEDS = [addressCodec.encode(workloadAddress), addressCodec.encode(serviceAddress)];
const AUTHZ_SEEDS = [authorizationCodec.encode(authorization)];

const typeUrl = (right: string) => fc.oneof({ weight: 9, arbitrary: fc.constant(right) }, { weight: 1, arbitrary: fc.constantFrom('', 'type.googleapis.com/istio.workload.Workload', ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL) });

function seededState(): ProxyState {
  const state = new ProxyState();
  const a = addressHandler(state).apply({ resources: [0, 1].map((i) => ({ name: [WORKLOAD_UID, SERVICE_KEY][i]!, version: 'v1', resource: { typeUrl: ADDRESS_TYPE_URL, value: ADDRESS_SEEDS[i]! } })), removed: [] });
  const p = authorizationHandler(state).apply({ resources: [{ name: POLICY_KEY, version: 'v1', resource: { typeUrl: AUTHORIZATION_TYPE_URL, value: AUTHZ_SEEDS[0]! } }], removed: [] });
  expect([...a.rejected, ...p.rejected]).toEqual([]);
  return state;
}

describe('workload xDS resources under fuzzing', () => {
  it('decodes and converts or refuses every Address, with a reason, never throwing', () => {
    fc.assert(
      fc.property(wireInput(ADDRESS_SEEDS, 1024), (bytes) => {
        const d = addressCodec.decode(bytes);
        if (!d.ok) {
          expect(d.error.issues.length).toBeGreaterThan(0);
          return;
        }
        // What decodes encodes again to the same value (the decoded shape is the schema's).
        expect(addressCodec.decode(addressCodec.encode(d.value))).toEqual(d);
        const c = convertAddress(d.value);
        if (!c.ok) for (const e of c.errors) expect(e).toContain(': ');
      }),
      fuzzParams(budget),
    );
  }, budget.testTimeoutMs);

  it('decodes and converts or refuses every Authorization, with a reason, never throwing', () => {
    fc.assert(
      fc.property(wireInput(AUTHZ_SEEDS, 1024), (bytes) => {
        const d = authorizationCodec.decode(bytes);
        if (!d.ok) {
          expect(d.error.issues.length).toBeGreaterThan(0);
          return;
        }
        expect(authorizationCodec.decode(authorizationCodec.encode(d.value))).toEqual(d);
        const c = convertAuthorization(d.value);
        if (!c.ok) for (const e of c.errors) expect(e.length).toBeGreaterThan(0);
      }),
      fuzzParams(budget),
    );
  }, budget.testTimeoutMs);

  it('applies or NACKs each fuzzed resource through the handlers, keeping the last good one when refused', () => {
    const names = fc.constantFrom<string>(WORKLOAD_UID, SERVICE_KEY, POLICY_KEY, 'other', '');
    const resources = (seeds: Uint8Array[], url: string) => fc.array(fc.record({ name: names, bytes: wireInput(seeds, 1024), typeUrl: typeUrl(url) }), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(resources(ADDRESS_SEEDS, ADDRESS_TYPE_URL), resources(AUTHZ_SEEDS, AUTHORIZATION_TYPE_URL), fc.array(names, { maxLength: 2 }), (addrs, policies, removed) => {
        const state = seededState();
        const good = { workload: state.findWorkloadByUid(WORKLOAD_UID), service: state.findServiceByKey(SERVICE_KEY), policies: state.policies() };
        const update = (rs: { name: string; bytes: Buffer; typeUrl: string }[]) => ({
          resources: rs.map((r) => ({ name: r.name, version: 'v2', resource: { typeUrl: r.typeUrl, value: r.bytes } })),
          removed,
        });
        const ra = addressHandler(state).apply(update(addrs));
        const rp = authorizationHandler(state).apply(update(policies));
        for (const [res, sent] of [[ra, addrs], [rp, policies]] as const) {
          for (const rej of res.rejected) {
            expect(sent.map((s) => s.name)).toContain(rej.name);
            expect(rej.reason.length).toBeGreaterThan(0);
          }
        }
        // A name whose every update was refused (and that was not removed) still holds its last good value.
        const untouched = (name: string, sent: { name: string }[], rejected: { name: string }[]) =>
          !removed.includes(name) && sent.filter((s) => s.name === name).length === rejected.filter((r) => r.name === name).length;
        if (untouched(WORKLOAD_UID, addrs, ra.rejected)) expect(state.findWorkloadByUid(WORKLOAD_UID)).toEqual(good.workload);
        if (untouched(SERVICE_KEY, addrs, ra.rejected)) expect(state.findServiceByKey(SERVICE_KEY)).toEqual(good.service);
        if (untouched(POLICY_KEY, policies, rp.rejected)) expect(state.policies().find((p) => `${p.namespace}/${p.name}` === POLICY_KEY)).toEqual(good.policies[0]);
      }),
      fuzzParams(budget),
    );
  }, budget.testTimeoutMs);
});
