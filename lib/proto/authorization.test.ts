// istio.security on the wire: the Rule/Clause nesting numbers (5 → 1 → 2), Match fields, and
// StringMatch's oneof including the Empty-typed presence member.
import { describe, expect, it } from 'vitest';
import { AuthorizationAction, authorizationCodec, AuthorizationScope, type Authorization } from './index.ts';
import { cat, hex, lenField, packed, varintField } from './test-wire.ts';

const policy: Authorization = {
  name: 'allow-echo',
  namespace: 'default',
  scope: AuthorizationScope.WORKLOAD_SELECTOR,
  action: AuthorizationAction.DENY,
  rules: [
    {
      clauses: [
        {
          matches: [
            {
              namespaces: [{ matchType: { $case: 'exact', exact: 'default' } }],
              notNamespaces: [{ matchType: { $case: 'prefix', prefix: 'kube-' } }],
              principals: [{ matchType: { $case: 'suffix', suffix: '/sa/client' } }],
              notPrincipals: [{ matchType: { $case: 'presence', presence: {} } }],
              sourceIps: [{ address: Buffer.from([10, 0, 0, 0]), length: 8 }],
              notSourceIps: [{ address: Buffer.from([10, 1, 0, 0]), length: 16 }],
              destinationIps: [{ address: Buffer.from([10, 2, 0, 1]), length: 32 }],
              notDestinationIps: [],
              destinationPorts: [80, 8080],
              notDestinationPorts: [9090],
              serviceAccounts: [{ namespace: 'default', serviceAccount: 'client' }],
              notServiceAccounts: [{ namespace: 'other', serviceAccount: 'bad' }],
              extensions: [],
            },
          ],
        },
      ],
    },
  ],
  dryRun: true,
  extensions: [{ name: 'x' }],
};

describe('istio.security.Authorization', () => {
  it('round-trips a fully populated policy', () => {
    const r = authorizationCodec.decode(authorizationCodec.encode(policy));
    expect(r.ok && r.value).toEqual(policy);
  });

  it('nests rules (5) → clauses (1) → matches (2) → principals (3) exactly as Istio numbers them', () => {
    const exact = lenField(1, 'cluster.local/ns/default/sa/client');
    const match = cat(lenField(3, exact), lenField(9, packed([8080])));
    const bytes = cat(lenField(1, 'p'), lenField(2, 'ns'), varintField(3, 1), varintField(4, 1), lenField(5, lenField(1, lenField(2, match))), varintField(6, 1));
    const r = authorizationCodec.decode(bytes);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({ name: 'p', namespace: 'ns', scope: AuthorizationScope.NAMESPACE, action: AuthorizationAction.DENY, dryRun: true });
    const m = r.value.rules[0]?.clauses[0]?.matches[0];
    expect(m?.principals).toEqual([{ matchType: { $case: 'exact', exact: 'cluster.local/ns/default/sa/client' } }]);
    expect(m?.destinationPorts).toEqual([8080]);
    // Our encoder produces those same bytes.
    expect(hex(authorizationCodec.encode(r.value))).toBe(hex(bytes));
  });

  it('accepts unpacked repeated ports too (both encodings are valid proto3)', () => {
    const match = cat(varintField(9, 80), varintField(9, 443));
    const r = authorizationCodec.decode(lenField(5, lenField(1, lenField(2, match))));
    expect(r.ok && r.value.rules[0]?.clauses[0]?.matches[0]?.destinationPorts).toEqual([80, 443]);
  });

  it('StringMatch.presence (4) is an empty message that still counts as set', () => {
    const bytes = authorizationCodec.encode({ rules: [{ clauses: [{ matches: [{ principals: [{ matchType: { $case: 'presence', presence: {} } }] }] }] }] });
    expect(hex(bytes)).toBe(hex(lenField(5, lenField(1, lenField(2, lenField(3, lenField(4, Buffer.alloc(0))))))));
  });

  it('rejects an unknown Action, naming the field', () => {
    const r = authorizationCodec.decode(varintField(4, 2));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.issues).toEqual(['action: unknown enum value 2 for Action']);
  });
});
